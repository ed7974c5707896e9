import { isNotFound, objectPath, type KubeRest } from "./rest.js";
import type { Secret } from "./objects.js";

/** Where connections read a channel's Secret from. null: it does not exist. */
export interface SecretLookup {
  get(namespace: string, name: string): Promise<Secret | null>;
}

/** How long a Secret that was found is served from memory: a rotated credential is seen within this. */
export const SECRET_CACHE_MS = 30_000;

/**
 * Reads the Secrets channels name, one GET each, instead of listing and watching every Secret in
 * the watched namespaces (RBAC needs `get` only). A Secret that was found is kept for
 * SECRET_CACHE_MS; a missing one is never cached, so a channel waiting for its Secret sees it on
 * its next poll. Concurrent reads of one Secret share a request.
 */
export class SecretReader implements SecretLookup {
  private readonly found = new Map<string, { secret: Secret; untilMs: number }>();
  private readonly inFlight = new Map<string, Promise<Secret | null>>();

  constructor(
    private readonly rest: Pick<KubeRest, "get">,
    private readonly ttlMs = SECRET_CACHE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  async get(namespace: string, name: string): Promise<Secret | null> {
    const key = `${namespace}/${name}`;
    const cached = this.found.get(key);
    if (cached && cached.untilMs > this.now()) return cached.secret;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const read = this.read(key, namespace, name).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, read);
    return read;
  }

  private async read(key: string, namespace: string, name: string): Promise<Secret | null> {
    try {
      const secret = await this.rest.get<Secret>(objectPath("", "v1", "secrets", namespace, name));
      this.found.set(key, { secret, untilMs: this.now() + this.ttlMs });
      return secret;
    } catch (err) {
      this.found.delete(key);
      if (isNotFound(err)) return null;
      throw err;
    }
  }
}
