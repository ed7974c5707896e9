import type { ResolvedChannel } from "../api/resolved.js";
import type { ConditionVerdict } from "../ports/index.js";

/** any: subjects are free; namespaced: every subject must start with `<namespace>.`. */
export type SubjectPolicy = "any" | "namespaced";

export function subjectPolicyVerdict(policy: SubjectPolicy, channel: ResolvedChannel): ConditionVerdict | null {
  if (policy !== "namespaced") return null;
  const prefix = `${channel.owner.namespace}.`;
  const outside = channel.stream.subjects.filter((s) => !s.startsWith(prefix));
  if (outside.length === 0) return null;
  return {
    status: "False",
    reason: "SubjectPolicyViolation",
    message: `subjects ${outside.join(", ")} are outside this namespace: the operator runs with --subject-policy namespaced, so use subjects starting with "${prefix}"`,
  };
}
