// Fault injection for tests: make the next N matching requests fail, add latency,
// drop watches, compact history. Matching is on the request as the server parsed it.
import { ApiError, STALE_OBJECT_MESSAGE, conflict } from "./errors.js";

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection";

export interface FaultMatch {
  /** One verb or several; any verb when absent. */
  verb?: Verb | Verb[];
  /** The resource's plural name, e.g. "deployments", "pointtopointchannels". */
  resource?: string;
  /** "status" or "scale"; "" matches only requests without a subresource. */
  subresource?: string;
  group?: string;
  namespace?: string;
  name?: string;
}

export interface RequestInfo {
  verb: Verb;
  group: string;
  resource: string;
  subresource: string;
  namespace?: string;
  name?: string;
}

/** The status codes failNext can answer with. */
export type FaultCode = 409 | 429 | 500 | 503;

interface FailureRule {
  match: FaultMatch;
  remaining: number;
  code: FaultCode;
  message?: string;
}

interface LatencyRule {
  match: FaultMatch;
  ms: number;
}

function matches(match: FaultMatch, info: RequestInfo): boolean {
  if (match.verb !== undefined) {
    const verbs = Array.isArray(match.verb) ? match.verb : [match.verb];
    if (!verbs.includes(info.verb)) return false;
  }
  if (match.resource !== undefined && match.resource !== info.resource) return false;
  if (match.subresource !== undefined && match.subresource !== info.subresource) return false;
  if (match.group !== undefined && match.group !== info.group) return false;
  if (match.namespace !== undefined && match.namespace !== info.namespace) return false;
  if (match.name !== undefined && match.name !== info.name) return false;
  return true;
}

export interface FaultHooks {
  dropWatches(abrupt: boolean): number;
  compact(): void;
}

export class Faults {
  private failures: FailureRule[] = [];
  private latencies: LatencyRule[] = [];
  /** Requests answered by an injected failure so far. */
  injected = 0;

  constructor(private readonly hooks: FaultHooks) {}

  /** The next `count` requests matching `match` answer `code` (409 Conflict by default). */
  failNext(count: number, match: FaultMatch, code: FaultCode = 409, message?: string): void {
    const rule: FailureRule = { match, remaining: count, code };
    if (message !== undefined) rule.message = message;
    this.failures.push(rule);
  }

  /** Adds `ms` of latency to every matching request until removed; returns the remover. */
  addLatency(ms: number, match: FaultMatch = {}): () => void {
    const rule = { match, ms };
    this.latencies.push(rule);
    return () => {
      this.latencies = this.latencies.filter((r) => r !== rule);
    };
  }

  /** Ends all open watches: gracefully by default, or by resetting the connection. */
  dropWatches(options: { abrupt?: boolean } = {}): number {
    return this.hooks.dropWatches(options.abrupt ?? false);
  }

  /** Forgets history: watching or listing from any older resourceVersion answers 410. */
  compact(): void {
    this.hooks.compact();
  }

  /** Removes pending failures and latencies. */
  reset(): void {
    this.failures = [];
    this.latencies = [];
  }

  /** Used by the router: the latency for a request and the failure to answer with. */
  latencyFor(info: RequestInfo): number {
    return this.latencies.filter((r) => matches(r.match, info)).reduce((sum, r) => sum + r.ms, 0);
  }

  takeFailure(info: RequestInfo): ApiError | undefined {
    const rule = this.failures.find((r) => r.remaining > 0 && matches(r.match, info));
    if (!rule) return undefined;
    rule.remaining--;
    this.failures = this.failures.filter((r) => r.remaining > 0);
    this.injected++;
    const gr = { group: info.group, plural: info.resource };
    switch (rule.code) {
      case 409:
        return conflict(gr, info.name ?? "", rule.message ?? STALE_OBJECT_MESSAGE);
      case 429:
        return new ApiError(429, "TooManyRequests", rule.message ?? "injected fault: too many requests", { retryAfterSeconds: 1 });
      case 503:
        return new ApiError(503, "ServiceUnavailable", rule.message ?? "injected fault: service unavailable");
      default:
        return new ApiError(500, "InternalError", `Internal error occurred: ${rule.message ?? "injected fault"}`, {
          causes: [{ reason: "UnexpectedServerResponse", message: rule.message ?? "injected fault" }],
        });
    }
  }
}
