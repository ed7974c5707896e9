// HTTP routing: turns a request path into discovery, OpenAPI or a resource operation,
// negotiates Table output, applies injected faults, and writes Status objects on errors.
import type { IncomingMessage, ServerResponse } from "node:http";
import { apiGroup, apiGroupList, apiResourceList, apiVersions, SERVER_VERSION } from "./discovery.js";
import { ApiError, internalError, methodNotAllowed, unsupportedMediaType } from "./errors.js";
import type { Faults, RequestInfo, Verb } from "./faults.js";
import type { KubeObject } from "./objects.js";
import { groupVersionDocument, openApiIndex } from "./openapi.js";
import type { ResourceRegistry } from "./resources.js";
import type { RestApi, Result, Target } from "./rest.js";
import { parseBody } from "./rest.js";
import { toTable } from "./table.js";
import type { IncludeObject } from "./table.js";
import type { WatchHub } from "./watch.js";

export interface RouterDeps {
  registry: ResourceRegistry;
  api: RestApi;
  watches: WatchHub;
  faults: Faults;
  serverAddress: () => string;
  log?: (line: string) => void;
}

function notFoundPath(): ApiError {
  return new ApiError(404, "NotFound", "the server could not find the requested resource", {});
}

function sendJson(res: ServerResponse, status: number, body: unknown, warnings: string[] = []): void {
  const payload = JSON.stringify(body);
  const headers: Record<string, string | string[]> = {
    "Content-Type": "application/json",
    "Cache-Control": "no-cache, private",
    "Content-Length": String(Buffer.byteLength(payload)),
  };
  if (warnings.length > 0) headers["Warning"] = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  res.writeHead(status, headers);
  res.end(payload);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** The Table version kubectl asked for, if it asked for a Table. */
function tableVersion(accept: string | undefined): string | undefined {
  for (const part of (accept ?? "").split(",")) {
    if (!/as=Table/.test(part) || !/g=meta\.k8s\.io/.test(part)) continue;
    const v = /v=(v1beta1|v1)\b/.exec(part);
    return v?.[1] ?? "v1";
  }
  return undefined;
}

interface ResourceRequest {
  target: Target;
  verb: Verb;
  info: RequestInfo;
}

function parseResourcePath(registry: ResourceRegistry, method: string, segments: string[], query: URLSearchParams): ResourceRequest | "discovery" | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === "api") {
    group = "";
    version = segments[1] ?? "";
    rest = segments.slice(2);
  } else {
    group = segments[1] ?? "";
    version = segments[2] ?? "";
    rest = segments.slice(3);
  }
  let watch = query.get("watch") === "true" || query.get("watch") === "1";
  if (rest[0] === "watch") {
    watch = true;
    rest = rest.slice(1);
  }
  if (rest.length === 0) return "discovery";
  let namespace: string | undefined;
  let plural: string;
  let name: string | undefined;
  let subresource: string | undefined;
  const nested = rest[0] === "namespaces" && rest.length >= 3 ? registry.get(group, version, rest[2] ?? "") : undefined;
  if (nested?.namespaced) {
    [, namespace, plural = "", name, subresource] = rest;
  } else {
    [plural = "", name, subresource] = rest;
  }
  if (rest.length > (nested?.namespaced ? 5 : 3)) return undefined;
  const rt = registry.get(group, version, plural);
  if (!rt) return undefined;
  if (!rt.namespaced && namespace !== undefined) return undefined;
  if (subresource !== undefined) {
    const allowed = (subresource === "status" && rt.statusSubresource) || (subresource === "scale" && rt.scale !== undefined) || (subresource === "finalize" && rt.kind === "Namespace");
    if (!allowed || name === undefined) return undefined;
  }
  let verb: Verb;
  switch (method) {
    case "GET":
      verb = name !== undefined ? "get" : watch ? "watch" : "list";
      break;
    case "POST":
      if (name !== undefined) throw methodNotAllowed("the server does not allow this method on the requested resource");
      verb = "create";
      break;
    case "PUT":
      if (name === undefined) throw methodNotAllowed("the server does not allow this method on the requested resource");
      verb = "update";
      break;
    case "PATCH":
      if (name === undefined) throw methodNotAllowed("the server does not allow this method on the requested resource");
      verb = "patch";
      break;
    case "DELETE":
      verb = name !== undefined ? "delete" : "deletecollection";
      break;
    default:
      throw methodNotAllowed(`the server does not allow this method on the requested resource`);
  }
  if (rt.namespaced && name !== undefined && namespace === undefined) return undefined;
  if (verb === "create" && rt.namespaced && namespace === undefined) throw methodNotAllowed("the server does not allow this method on the requested resource");
  const target: Target = { rt };
  if (namespace !== undefined) target.namespace = namespace;
  if (name !== undefined) target.name = name;
  if (subresource !== undefined) target.subresource = subresource;
  const info: RequestInfo = { verb, group, resource: plural, subresource: subresource ?? "" };
  if (namespace !== undefined) info.namespace = namespace;
  if (name !== undefined) info.name = name;
  return { target, verb, info };
}

export function createRequestHandler(deps: RouterDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { registry, api, watches, faults } = deps;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method ?? "GET";
    const segments = url.pathname.split("/").filter((s) => s !== "").map(decodeURIComponent);
    const query = url.searchParams;
    const path = url.pathname.replace(/\/+$/, "") || "/";

    switch (path) {
      case "/version":
        return sendJson(res, 200, SERVER_VERSION);
      case "/healthz":
      case "/livez":
      case "/readyz":
        res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
        res.end("ok");
        return;
      case "/api":
        return sendJson(res, 200, apiVersions(deps.serverAddress()));
      case "/apis":
        return sendJson(res, 200, apiGroupList(registry));
      case "/openapi/v3":
        return sendJson(res, 200, openApiIndex(registry));
    }
    if (segments[0] === "openapi" && segments[1] === "v3") {
      const rest = segments.slice(2);
      const doc = rest[0] === "api" ? groupVersionDocument(registry, "", rest[1] ?? "") : groupVersionDocument(registry, rest[1] ?? "", rest[2] ?? "");
      if (!doc) throw notFoundPath();
      return sendJson(res, 200, doc);
    }
    if (segments[0] === "apis" && segments.length === 2) {
      const group = apiGroup(registry, segments[1] ?? "");
      if (!group) throw notFoundPath();
      return sendJson(res, 200, group);
    }
    if (segments[0] !== "api" && segments[0] !== "apis") throw notFoundPath();

    const parsed = parseResourcePath(registry, method, segments, query);
    if (parsed === undefined) throw notFoundPath();
    if (parsed === "discovery") {
      const group = segments[0] === "api" ? "" : segments[1] ?? "";
      const version = segments[0] === "api" ? segments[1] ?? "" : segments[2] ?? "";
      const list = apiResourceList(registry, group, version);
      if (!list) throw notFoundPath();
      return sendJson(res, 200, list);
    }

    const { target, verb, info } = parsed;
    const delay = faults.latencyFor(info);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const injected = faults.takeFailure(info);
    if (injected) throw injected;

    const rawBody = ["POST", "PUT", "PATCH", "DELETE"].includes(method) ? await readBody(req) : "";
    const bodyType = req.headers["content-type"] ?? "";
    if (rawBody !== "" && /protobuf|cbor/.test(bodyType)) {
      // Only JSON and YAML bodies: kubectl's typed generators (create deployment)
      // send protobuf and are out of scope; apply/create -f/patch/scale send JSON.
      throw unsupportedMediaType(["application/json", "application/yaml"]);
    }
    const opts = { query, userAgent: req.headers["user-agent"] ?? "" };
    const table = tableVersion(req.headers.accept);
    const includeObject = (query.get("includeObject") as IncludeObject | null) ?? "Metadata";
    let result: Result;
    switch (verb) {
      case "watch":
        watches.serve(target, query, res);
        return;
      case "get": {
        const obj = api.get(target);
        if (table && !target.subresource) {
          const body = toTable(target.rt, [obj], { resourceVersion: obj.metadata.resourceVersion }, includeObject, table);
          return sendJson(res, 200, body);
        }
        return sendJson(res, 200, obj);
      }
      case "list": {
        const list = api.list(target, query);
        if (table) return sendJson(res, 200, toTable(target.rt, list.items, list.metadata, includeObject, table));
        return sendJson(res, 200, api.listBody(target, query));
      }
      case "create":
        result = api.create(target, parseBody(rawBody, req.headers["content-type"]), opts);
        break;
      case "update":
        result = api.update(target, parseBody(rawBody, req.headers["content-type"]), opts);
        break;
      case "patch":
        result = api.patch(target, rawBody, req.headers["content-type"], opts);
        break;
      case "delete":
        result = api.delete(target, parseBody(rawBody, req.headers["content-type"]), opts);
        break;
      case "deletecollection":
        result = api.deleteCollection(target, parseBody(rawBody, req.headers["content-type"]), opts);
        break;
    }
    if (table && result.body && (result.body as KubeObject).metadata && verb !== "delete" && verb !== "deletecollection") {
      const obj = result.body as KubeObject;
      return sendJson(res, result.status, toTable(target.rt, [obj], { resourceVersion: obj.metadata.resourceVersion }, includeObject, table), result.warnings);
    }
    sendJson(res, result.status, result.body, result.warnings);
  };

  return (req, res) => {
    const started = Date.now();
    handle(req, res)
      .catch((err: unknown) => {
        const apiError = err instanceof ApiError ? err : internalError((err as Error)?.stack ?? String(err));
        if (!res.headersSent) sendJson(res, apiError.code, apiError.toStatus());
        else res.destroy();
      })
      .finally(() => {
        deps.log?.(`${req.method ?? ""} ${req.url ?? ""} ${res.statusCode} ${Date.now() - started}ms`);
      });
  };
}
