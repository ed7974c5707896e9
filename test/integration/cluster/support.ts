import { afterEach, beforeAll } from "vitest";
import { NatsCluster } from "../../support/nats-cluster.js";
import { ensureTemplateBuilt, LocalFixture, type ChannelOptions } from "../local/support.js";

export interface LocalOnCluster {
  cluster: NatsCluster;
  fixture: LocalFixture;
}

/**
 * A fresh three-node cluster and one `p2p local` on it per test, both stopped after the test.
 * `servers` picks the URLs the operator is given (default: every server's).
 */
export function useLocalOnCluster(): (channel: ChannelOptions, servers?: (cluster: NatsCluster) => string[]) => Promise<LocalOnCluster> {
  let cluster: NatsCluster | null = null;
  let fixture: LocalFixture | null = null;
  beforeAll(ensureTemplateBuilt, 120_000);
  afterEach(async () => {
    await fixture?.close();
    await cluster?.stop();
    fixture = null;
    cluster = null;
  });
  return async (channel, servers = (c) => c.urls) => {
    cluster = await NatsCluster.start();
    fixture = await LocalFixture.start(channel, servers(cluster).join(","));
    return { cluster, fixture };
  };
}
