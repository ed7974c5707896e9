// Readiness probes as the kubelet runs them, against the remapped loopback ports: httpGet
// (2xx/3xx passes), tcpSocket (a connection passes) and exec (exit 0 passes).
import { execFile } from "node:child_process";
import http from "node:http";
import net from "node:net";
import type { V1Probe } from "@kubernetes/client-node";
import type { PreparedContainer } from "./pod-setup.js";

function hostPort(port: number | string | undefined, prepared: PreparedContainer): number {
  if (typeof port === "number") return prepared.ports.get(port) ?? port;
  if (port && /^\d+$/.test(port)) return prepared.ports.get(Number(port)) ?? Number(port);
  const named = port ? prepared.namedPorts.get(port) : undefined;
  if (named === undefined) throw new Error(`probe port ${String(port)} names no container port`);
  return named;
}

export async function probeOnce(probe: V1Probe, prepared: PreparedContainer, cwd: string): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet) {
    const port = hostPort(probe.httpGet.port as number | string, prepared);
    return new Promise((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path: probe.httpGet?.path ?? "/", timeout: timeoutMs }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      });
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve(false));
    });
  }
  if (probe.tcpSocket) {
    const port = hostPort(probe.tcpSocket.port as number | string, prepared);
    return new Promise((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port, timeout: timeoutMs }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("timeout", () => socket.destroy());
      socket.on("error", () => resolve(false));
    });
  }
  if (probe.exec?.command?.length) {
    const [cmd, ...args] = probe.exec.command;
    return new Promise((resolve) => {
      execFile(cmd!, args, { cwd, env: { ...prepared.env }, timeout: timeoutMs }, (err) => resolve(!err));
    });
  }
  return true;
}
