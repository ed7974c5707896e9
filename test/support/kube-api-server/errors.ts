// Kubernetes answers every failure with a metav1.Status object. ApiError carries one
// through the handlers; http.ts turns it into the response body.

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface StatusObject {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  toStatus(): StatusObject {
    const status: StatusObject = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) status.details = this.details;
    return status;
  }
}

/** The "deployments.apps" form Kubernetes uses in error messages. */
export interface GroupResource {
  group: string;
  plural: string;
}

function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.plural}.${gr.group}` : gr.plural;
}

export function notFound(gr: GroupResource, name: string): ApiError {
  return new ApiError(404, "NotFound", `${qualified(gr)} "${name}" not found`, {
    name,
    group: gr.group,
    kind: gr.plural,
  });
}

export function alreadyExists(gr: GroupResource, name: string): ApiError {
  return new ApiError(409, "AlreadyExists", `${qualified(gr)} "${name}" already exists`, {
    name,
    group: gr.group,
    kind: gr.plural,
  });
}

export function conflict(gr: GroupResource, name: string, why: string): ApiError {
  return new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`,
    { name, group: gr.group, kind: gr.plural },
  );
}

export const STALE_OBJECT_MESSAGE =
  "the object has been modified; please apply your changes to the latest version and try again";

export function gone(message: string): ApiError {
  return new ApiError(410, "Expired", message);
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

export function methodNotAllowed(message: string): ApiError {
  return new ApiError(405, "MethodNotAllowed", message);
}

export function forbidden(gr: GroupResource, name: string, why: string): ApiError {
  return new ApiError(403, "Forbidden", `${qualified(gr)} "${name}" is forbidden: ${why}`, {
    name,
    group: gr.group,
    kind: gr.plural,
  });
}

export function unsupportedMediaType(accepted: string[]): ApiError {
  return new ApiError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
  );
}

/** One field error, printed the way apimachinery's field.Error prints. */
export interface FieldError {
  field: string;
  /** metav1.CauseType, e.g. FieldValueInvalid */
  reason: string;
  /** Without the field path: "Invalid value: 7: must be ..." */
  message: string;
}

export function invalid(
  kind: string,
  group: string,
  name: string,
  errors: FieldError[],
): ApiError {
  const parts = errors.map((e) => `${e.field}: ${e.message}`);
  const joined = parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`;
  const subject = group ? `${kind}.${group}` : kind;
  return new ApiError(422, "Invalid", `${subject} "${name}" is invalid: ${joined}`, {
    name,
    group,
    kind,
    causes: errors.map((e) => ({ reason: e.reason, message: e.message, field: e.field })),
  });
}

export function internalError(message: string): ApiError {
  return new ApiError(500, "InternalError", `Internal error occurred: ${message}`, {
    causes: [{ reason: "UnexpectedServerResponse", message }],
  });
}
