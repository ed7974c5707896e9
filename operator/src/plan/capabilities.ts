// What a nats-server can do, from the version in its INFO. Older servers silently drop
// fields they do not know, so a feature is used only when the version says it exists.

export interface ServerCapabilities {
  version: string;
  /** Stream and consumer metadata (2.10). */
  metadata: boolean;
}

export function parseServerVersion(version: string): [number, number, number] {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!m) return [0, 0, 0];
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

export function versionAtLeast(version: string, major: number, minor: number, patch = 0): boolean {
  const [a, b, c] = parseServerVersion(version);
  if (a !== major) return a > major;
  if (b !== minor) return b > minor;
  return c >= patch;
}

export function capabilitiesOf(version: string): ServerCapabilities {
  return { version, metadata: versionAtLeast(version, 2, 10) };
}
