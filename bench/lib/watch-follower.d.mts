export interface KubeObject {
  metadata: { name: string; resourceVersion?: string };
  status?: unknown;
}

export function followCollection(
  url: string,
  signal: AbortSignal,
  handlers: {
    onObject(object: KubeObject): void;
    onDeleted(object: KubeObject): void;
    onError?(err: Error): void;
    timeoutSeconds?: number;
    onWatchStart?(resourceVersion: string): void;
  },
): Promise<void>;
