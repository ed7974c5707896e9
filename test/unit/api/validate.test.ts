import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { channelSchema, validateChannel } from "../../../operator/src/api/validate.js";
import { base, collectRules, edit, invalid, type Doc } from "../../support/channel-cases.js";

const repoRoot = join(import.meta.dirname, "../../..");

describe("every example validates", () => {
  const dir = join(repoRoot, "examples/immunisation");
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));

  it("finds the examples", () => {
    expect(files).toEqual(expect.arrayContaining(["channel.yaml", "channel-existing-deployment.yaml"]));
  });

  it.each(files)("%s", (file) => {
    const docs = parseAllDocuments(readFileSync(join(dir, file), "utf8"));
    if (!Array.isArray(docs)) throw new Error("expected YAML documents");
    for (const doc of docs) {
      expect(doc.errors).toEqual([]);
      expect(validateChannel(doc.toJS())).toEqual([]);
    }
  });

  it("the two examples' subjects do not overlap, so both can be applied together", () => {
    const subjects = ["channel.yaml", "channel-existing-deployment.yaml"].map(
      (f) => (parseAllDocuments(readFileSync(join(dir, f), "utf8")) as Array<{ toJS(): Doc }>)[0]!.toJS().spec.subjects as string[],
    );
    const [a, b] = subjects;
    for (const s of a!) for (const t of b!) expect(natsOverlap(s, t), `${s} vs ${t}`).toBe(false);
  });
});

/** Whether two subjects (with wildcards) can match the same literal subject. */
function natsOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const s = x[i];
    const t = y[i];
    if (s === ">" || t === ">") return true;
    if (s === undefined || t === undefined) return false;
    if (s !== t && s !== "*" && t !== "*") return false;
  }
  return true;
}

describe("valid channels", () => {
  it.each<[string, Doc, Doc?]>([
    ["the base channel", base()],
    ["scaleTargetRef instead of template", edit((d) => (d.spec.workload = { scaleTargetRef: { name: "register" } }))],
    ["no subjects: the default", edit((d) => delete d.spec.subjects)],
    ["wildcards: * as a token, > last", edit((d) => (d.spec.subjects = ["orders.*.created", "invoices.>"]))],
    ["DESIGN.md's empty names mean the defaults", edit((d) => ((d.spec.stream = { name: "" }), (d.spec.consumer.name = "")))],
    ["scale to zero", edit((d) => (d.spec.scaling = { minReplicas: 0, maxReplicas: 1, activationLag: 5, scaleToZeroAfter: "10m" }))],
    ["min equal to max", edit((d) => (d.spec.scaling = { minReplicas: 3, maxReplicas: 3 }))],
    [
      "Go durations in every form",
      edit((d) => {
        d.spec.stream = { maxAge: "1.5h", duplicateWindow: "90s" };
        d.spec.consumer.ackWait = "1m30s";
        d.spec.consumer.backoff = ["500ms", "1500µs", "2s"];
        d.spec.scaling.pollInterval = "250ms";
        d.spec.scaling.targetDrainTime = "2m";
      }),
    ],
    ["empty targetDrainTime: lag mode", edit((d) => (d.spec.scaling.targetDrainTime = ""))],
    ["percentage scale-up policy", edit((d) => (d.spec.scaling.scaleUp = { maxStepPercent: 100, stabilizationWindow: "5s" }))],
    ["backoff one shorter than maxDeliver", edit((d) => Object.assign(d.spec.consumer, { maxDeliver: 4, backoff: ["1s", "2s", "3s"] }))],
    ["connection with secret", edit((d) => (d.spec.connection = { servers: ["nats://nats.nats:4222", "tls://n2:4222"], secretRef: { name: "nats-auth" } }))],
    ["every stream field", edit((d) => (d.spec.stream = { name: "ORDERS", storage: "memory", replicas: 3, maxAge: "72h", maxMsgs: 1000, maxBytes: 1048576, maxMsgSize: 65536, discard: "old", duplicateWindow: "2m" }))],
    ["unknown fields inside the pod template are the pod's business", edit((d) => Object.assign(d.spec.workload.template.spec, { serviceAccountName: "x", nodeSelector: { a: "b" } }))],
    [
      "status as the operator writes it",
      edit((d) => {
        d.status = {
          observedGeneration: 3,
          conditions: [{ type: "Ready", status: "True", observedGeneration: 3, lastTransitionTime: "2026-01-02T03:04:05Z", reason: "Ready", message: "all good" }],
          stream: { name: "health_register", messages: 4, bytes: 100, firstSeq: 1, lastSeq: 4 },
          consumer: { name: "register", pending: 2, ackPending: 2, redelivered: 0, waiting: 1 },
          target: "Deployment/register-consumer",
          lag: 4,
          replicas: 1,
          desiredReplicas: 1,
          lastScaleTime: "2026-01-02T03:04:05.123Z",
          lastScaleReason: "lag 4 <= 1 x 100",
          deadLetters: 0,
        };
      }),
    ],
    ["an update that keeps immutable fields", edit((d) => (d.spec.scaling.maxReplicas = 9)), base()],
    ["an update that changes subjects", edit((d) => (d.spec.subjects = ["immunisation.administered.v2"])), base()],
    ["an update that spells out the default storage", edit((d) => (d.spec.stream = { storage: "file" })), base()],
    ["an update that replaces an empty name by nothing", base(), edit((d) => (d.spec.stream = { name: "" }))],
  ])("%s", (_name, doc, old) => {
    expect(validateChannel(doc, old)).toEqual([]);
  });
});

describe("invalid channels: each mistake rejected at its field path, with the fix", () => {
  it("has at least 25 distinct cases", () => {
    expect(invalid.length).toBeGreaterThanOrEqual(25);
    expect(new Set(invalid.map((c) => c.name)).size).toBe(invalid.length);
    expect(new Set(invalid.map((c) => JSON.stringify([c.doc, c.old]))).size).toBe(invalid.length);
  });

  it.each(invalid)("$name -> $path", ({ doc, old, path, fix }) => {
    const issues = validateChannel(doc, old);
    expect(issues.length).toBeGreaterThan(0);
    // The one mistake is reported where it is, and nowhere else.
    expect(issues.map((i) => i.path)).toEqual(issues.map(() => path));
    expect(issues.map((i) => i.message).join("\n")).toMatch(fix);
  });

  it("the base document of the table is itself valid", () => {
    expect(validateChannel(base())).toEqual([]);
  });

  it("reports several mistakes at once", () => {
    const doc = edit((d) => {
      d.spec.subjects = ["a..b"];
      d.spec.stream = { storage: "disk" };
      d.spec.scaling = { minReplicas: 9, maxReplicas: 2 };
    });
    expect(validateChannel(doc).map((i) => i.path).sort()).toEqual(["spec.scaling.minReplicas", "spec.stream.storage", "spec.subjects[0]"]);
  });

  it("a document that is not a mapping", () => {
    expect(validateChannel("hello")).toEqual([{ path: "(document)", message: expect.stringMatching(/must be a PointToPointChannel manifest/) }]);
  });

  it("does not change the document it checks", () => {
    const doc = base();
    const before = structuredClone(doc);
    validateChannel(doc);
    expect(doc).toEqual(before);
  });
});

describe("the CRD's CEL rules run with cel-js", () => {
  const rules = collectRules(channelSchema());

  it("finds the rules in the CRD", () => {
    expect(rules.length).toBeGreaterThanOrEqual(10);
  });

  it.each(rules.map((r) => [r.path, r.rule.rule, r.rule.message ?? ""] as const))(
    "%s: %s is exercised by an invalid case",
    (_path, _rule, message) => {
      const produced = invalid.flatMap((c) => validateChannel(c.doc, c.old).map((i) => i.message));
      expect(produced).toContain(message);
    },
  );
});
