import { describe, expect, it } from "vitest";
import { OperatorUsageError, operatorOptions } from "../../../operator/src/cli/operator-command.js";

// `p2p operator` flags: each also from the environment, flags winning.

describe("operatorOptions", () => {
  it("defaults", () => {
    expect(operatorOptions([], {})).toEqual({
      natsServers: ["nats://127.0.0.1:4222"],
      natsCreds: null,
      namespaces: null,
      metricsAddr: ":8080",
      healthAddr: ":8081",
      leaderElect: false,
      leaderElectionNamespace: expect.any(String),
      leaderElectionId: "p2p-operator",
      subjectPolicy: "any",
      logLevel: "info",
      kubeconfig: null,
    });
  });

  it("reads every setting from the environment", () => {
    const o = operatorOptions([], {
      NATS_URL: "nats://a:4222,nats://b:4222",
      NATS_CREDS: "/etc/nats/op.creds",
      WATCH_NAMESPACES: "team-a, team-b,,",
      METRICS_ADDR: ":9090",
      HEALTH_ADDR: "127.0.0.1:9091",
      LEADER_ELECT: "true",
      SUBJECT_POLICY: "namespaced",
      LOG_LEVEL: "debug",
      POD_NAMESPACE: "p2p-system",
      LEADER_ELECTION_ID: "p2p-operator-prod",
    });
    expect(o).toMatchObject({
      natsServers: ["nats://a:4222", "nats://b:4222"],
      natsCreds: "/etc/nats/op.creds",
      namespaces: ["team-a", "team-b"],
      metricsAddr: ":9090",
      healthAddr: "127.0.0.1:9091",
      leaderElect: true,
      subjectPolicy: "namespaced",
      logLevel: "debug",
      leaderElectionNamespace: "p2p-system",
      leaderElectionId: "p2p-operator-prod",
    });
  });

  it("lets flags win over the environment, with --namespace repeatable", () => {
    const o = operatorOptions(
      ["--namespace", "x", "--namespace=y,z", "--nats-url", "nats://flag:4222", "--leader-elect", "--subject-policy", "any", "--kubeconfig", "/k"],
      { WATCH_NAMESPACES: "env", NATS_URL: "nats://env:4222", SUBJECT_POLICY: "namespaced" },
    );
    expect(o).toMatchObject({ namespaces: ["x", "y", "z"], natsServers: ["nats://flag:4222"], leaderElect: true, subjectPolicy: "any", kubeconfig: "/k" });
  });

  it.each([
    [["--subject-policy", "strict"], /any or namespaced/],
    [["--log-level", "loud"], /--log-level/],
  ])("refuses %j", (args, message) => {
    expect(() => operatorOptions(args, {})).toThrow(OperatorUsageError);
    expect(() => operatorOptions(args, {})).toThrow(message);
  });

  it("refuses unknown flags", () => {
    expect(() => operatorOptions(["--nats"], {})).toThrow();
  });

  it("asks for help", () => {
    expect(operatorOptions(["--help"], {})).toBe("help");
  });

  it("takes several comma-separated NATS servers, and names the flag and the fix for a bad one", () => {
    expect(operatorOptions(["--nats-url", " nats://a:4222 , tls://b:4222,c:4222 "], {})).toMatchObject({ natsServers: ["nats://a:4222", "tls://b:4222", "c:4222"] });
    expect(() => operatorOptions(["--nats-url", "nats://a:4222,http://b"], {})).toThrow(OperatorUsageError);
    expect(() => operatorOptions(["--nats-url", "nats://a:4222,http://b"], {})).toThrow('--nats-url: "http://b" is not a NATS server URL: use nats://host:4222');
    expect(() => operatorOptions([], { NATS_URL: " , " })).toThrow("NATS_URL is empty");
  });
});
