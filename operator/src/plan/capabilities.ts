// What a nats-server can do, from the version in its INFO. Older servers silently drop
// fields they do not know, so a feature is used only when the version says it exists.

/** The version-gated features, by the name the channel's status.nats.features lists them under. */
export const NatsFeature = {
  /** 2.10: the owning channel is stamped in the stream's metadata as well as its description. */
  StreamMetadata: "StreamMetadata",
  /** 2.10.4: consumers term a message with a reason (+TERM <reason>), shown in the server's advisory. */
  TermWithReason: "TermWithReason",
  /** 2.11: spec.paused pauses the consumer on the server, so replicas stop receiving. */
  ConsumerPause: "ConsumerPause",
} as const;
export type NatsFeature = (typeof NatsFeature)[keyof typeof NatsFeature];

const SINCE: Record<NatsFeature, [number, number, number]> = {
  StreamMetadata: [2, 10, 0],
  TermWithReason: [2, 10, 4],
  ConsumerPause: [2, 11, 0],
};

export interface ServerCapabilities {
  version: string;
  /** Stream and consumer metadata (2.10). */
  metadata: boolean;
  /** Consumer pause (2.11): $JS.API.CONSUMER.PAUSE and ConsumerInfo.paused. */
  consumerPause: boolean;
  /** The features in force on this server, oldest first. */
  features: NatsFeature[];
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
  const features = (Object.keys(SINCE) as NatsFeature[]).filter((f) => versionAtLeast(version, ...SINCE[f]));
  return {
    version,
    metadata: features.includes(NatsFeature.StreamMetadata),
    consumerPause: features.includes(NatsFeature.ConsumerPause),
    features,
  };
}
