import type { Condition, ConditionType } from "../api/types.js";
import type { ConditionVerdict } from "../ports/index.js";

export type Verdicts = Partial<Record<Exclude<ConditionType, "Ready">, ConditionVerdict>>;

const ORDER: Array<Exclude<ConditionType, "Ready">> = ["StreamReady", "ConsumerReady", "WorkloadReady", "ScalingActive"];
/** ScalingActive=False (paused, idle at zero) is a state, not a fault: it does not make a channel unready. */
const REQUIRED_FOR_READY: ReadonlySet<ConditionType> = new Set(["StreamReady", "ConsumerReady", "WorkloadReady"]);

/** Ready sums up the others: True when every required one is True, else the first that is not. */
export function readyVerdict(verdicts: Verdicts): ConditionVerdict {
  for (const type of ORDER) {
    if (!REQUIRED_FOR_READY.has(type)) continue;
    const v = verdicts[type];
    if (!v) return { status: "Unknown", reason: "Reconciling", message: `${type} not yet known` };
    if (v.status !== "True") return { status: v.status, reason: v.reason, message: `${type}: ${v.message}` };
  }
  return { status: "True", reason: "Ready", message: "stream, consumer and workload are ready" };
}

/**
 * metav1.Condition semantics: lastTransitionTime changes only when status flips; reason, message
 * and observedGeneration follow the latest verdict. Conditions not in `verdicts` keep their value.
 * Ready sums up the others, unless `ready` names a fault of its own.
 */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  verdicts: Verdicts,
  generation: number,
  nowIso: string,
  ready?: ConditionVerdict,
): Condition[] {
  const byType = new Map((previous ?? []).map((c) => [c.type, c]));
  const all: Partial<Record<ConditionType, ConditionVerdict>> = { ...verdicts };
  const kept: Verdicts = {};
  for (const type of ORDER) {
    const v = verdicts[type] ?? toVerdict(byType.get(type));
    if (v) kept[type] = v;
  }
  all.Ready = ready ?? readyVerdict(kept);
  const out: Condition[] = [];
  for (const type of ["Ready", ...ORDER] as ConditionType[]) {
    const verdict = all[type];
    const prev = byType.get(type);
    if (!verdict) {
      if (prev) out.push(prev);
      continue;
    }
    out.push({
      type,
      status: verdict.status,
      observedGeneration: generation,
      lastTransitionTime: prev && prev.status === verdict.status ? prev.lastTransitionTime : nowIso,
      reason: verdict.reason,
      message: verdict.message,
    });
  }
  return out;
}

function toVerdict(c: Condition | undefined): ConditionVerdict | undefined {
  return c ? { status: c.status, reason: c.reason, message: c.message } : undefined;
}

/** Conditions whose status changed between two lists (for events on transitions). */
export function transitions(before: readonly Condition[] | undefined, after: readonly Condition[]): Condition[] {
  const prev = new Map((before ?? []).map((c) => [c.type, c]));
  return after.filter((c) => {
    const p = prev.get(c.type);
    return !p || p.status !== c.status || p.reason !== c.reason;
  });
}
