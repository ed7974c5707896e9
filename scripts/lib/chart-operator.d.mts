import type { V1Deployment } from "@kubernetes/client-node";

/** The chart's operator container as a local command: its args (without the subcommand, listen addresses and log level) and env. */
export function chartOperatorCommand(deployment: V1Deployment, where: { namespace: string; podName: string }): { args: string[]; env: Record<string, string> };
