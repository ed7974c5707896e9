// The CRD as the real kube-apiserver serves it: accepted (its CEL rules within the server's
// cost budget), every valid example admitted, every invalid case of the offline validator's
// table refused at the same field, each CEL rule refusing with its own message, and the
// printer columns of `kubectl get p2pc` coming from the server.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { channelSchema } from "../../../operator/src/api/validate.js";
import { base, collectRules, edit, invalid, type Doc } from "../../support/channel-cases.js";
import { KubeStatusError } from "../../support/control-plane/index.js";
import { useAdminNamespace } from "../support/admin-namespace.js";
import { controlPlane, kubectl } from "../support/kube-world.js";

const NS = "admission";
const ROOT = join(import.meta.dirname, "../../..");
const PLURAL = `/apis/messaging.p2p.dev/v1alpha1/namespaces/${NS}/pointtopointchannels`;
const world = useAdminNamespace(NS);
let counter = 0;

/** Creates `doc` (after `old`, updated to doc, when given) under a fresh name; the server's refusal or null. */
async function admit(doc: Doc, old?: Doc): Promise<KubeStatusError | null> {
  const name = `case-${++counter}`;
  // The table's documents share one name; each gets its own here, unless the name is the mistake.
  const withName = (d: Doc) => ({ ...d, metadata: { ...d.metadata, name: d.metadata?.name === base().metadata.name ? name : d.metadata?.name, namespace: NS } });
  try {
    if (old) {
      const created = await world.admin.request<Doc>("POST", `${PLURAL}?fieldValidation=Strict`, withName(old));
      const next = withName(doc);
      next.metadata.resourceVersion = created.metadata.resourceVersion;
      await world.admin.request("PUT", `${PLURAL}/${name}?fieldValidation=Strict`, next);
      if (doc.status) await world.admin.request("PUT", `${PLURAL}/${name}/status`, { ...next, metadata: { ...next.metadata, resourceVersion: undefined } });
    } else {
      const created = await world.admin.request<Doc>("POST", `${PLURAL}?fieldValidation=Strict`, withName(doc));
      // Status is a subresource: the main resource ignores it, /status validates it.
      if (doc.status) await world.admin.request("PUT", `${PLURAL}/${created.metadata.name}/status`, { ...created, status: doc.status });
    }
    return null;
  } catch (err) {
    if (err instanceof KubeStatusError) return err;
    throw err;
  }
}

const refusals = new Map<string, Promise<KubeStatusError | null>>();
/** Each case goes to the server once; both tables below read its answer. */
function refusalOf(c: (typeof invalid)[number]): Promise<KubeStatusError | null> {
  let answer = refusals.get(c.name);
  if (!answer) refusals.set(c.name, (answer = admit(c.doc, c.old)));
  return answer;
}

/** The path and its parents, as the server may report a rule at the object that holds it. */
function pathAndParents(path: string): string[] {
  const out = [path];
  for (let p = path; /[.[]/.test(p); ) {
    p = p.replace(/(\.[^.[]+|\[\d+\])$/, "");
    out.push(p);
  }
  return out;
}

describe("the CRD on the real apiserver", () => {
  it("accepts every example manifest", async () => {
    for (const file of ["channel.yaml", "channel-existing-deployment.yaml"]) {
      for (const doc of parseAllDocuments(readFileSync(join(ROOT, "examples/immunisation", file), "utf8")) as Array<{ toJS(): Doc }>) {
        expect(await admit(doc.toJS()), file).toBeNull();
      }
    }
    expect(await admit(base())).toBeNull();
  });

  // The apiserver does not check these the offline validator does: apiVersion is the URL's,
  // and an unknown field is an error only with fieldValidation=Strict (given here).
  const offlineOnly = new Set(["wrong apiVersion"]);

  it.each(invalid.filter((c) => !offlineOnly.has(c.name)))("refuses $name at $path", async (c) => {
    const refused = await refusalOf(c);
    expect(refused, "the apiserver admitted it").not.toBeNull();
    expect([400, 422]).toContain(refused!.code);
    expect(pathAndParents(c.path).some((p) => refused!.message.includes(p)), refused!.message).toBe(true);
  });

  it.each(collectRules(channelSchema()).map((r) => [r.path, r.rule.message ?? r.rule.rule] as const))("the CEL rule at %s refuses with its message: %s", async (_path, message) => {
    const messages = (await Promise.all(invalid.map(refusalOf))).flatMap((r) => (r ? [r.message] : []));
    expect(messages.some((m) => m.includes(message)), `no invalid case made the apiserver answer "${message}"`).toBe(true);
  });

  it("shows the printer columns in kubectl get p2pc", async () => {
    const info = controlPlane();
    expect(await admit(edit((d) => (d.metadata.name = "listed")))).toBeNull();
    const { stdout: out } = await kubectl(info, ["get", "p2pc", "-n", NS]);
    const [header] = out.trim().split("\n");
    expect(header!.split(/\s+/)).toEqual(["NAME", "STREAM", "TARGET", "MIN", "MAX", "REPLICAS", "LAG", "READY", "AGE"]);
    expect(out).toMatch(/\ncase-\d+\s+\s*1\s+8\s/);
  });
});
