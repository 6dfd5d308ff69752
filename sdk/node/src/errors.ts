/** Typed errors for TrueStack's error envelope `{"error": CODE, "message": text, ...}`. */

export type ErrorBody = Record<string, unknown>;

/** Any error answer. `status` is the HTTP status (null when no answer arrived),
 * `code` the envelope's `error`, `body` the whole envelope. */
export class TrueStackError extends Error {
  readonly status: number | null;
  readonly code: string;
  readonly body: ErrorBody;
  /** Response headers, names lower-cased. */
  readonly headers: Record<string, string>;

  constructor(
    message: string,
    options: { status?: number | null; code?: string; body?: ErrorBody; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = new.target.name;
    this.status = options.status ?? null;
    this.code = options.code ?? "UNKNOWN";
    this.body = options.body ?? {};
    this.headers = options.headers ?? {};
  }
}

/** 401 UNAUTHORIZED. */
export class AuthenticationError extends TrueStackError {}
/** 400 BAD_REQUEST (also 413 PAYLOAD_TOO_LARGE, 415 UNSUPPORTED_MEDIA_TYPE). */
export class ValidationError extends TrueStackError {}
/** 404 NOT_FOUND. */
export class NotFound extends TrueStackError {}
/** 409 IDEMPOTENCY_REQUEST_IN_PROGRESS or 422 IDEMPOTENCY_KEY_REUSED. */
export class IdempotencyError extends TrueStackError {}
/** 502 GATEWAY_ERROR: the provider refused or could not be reached; nothing was charged. */
export class ProviderError extends TrueStackError {}
/** Any other 5xx. */
export class ServerError extends TrueStackError {}
/** No answer at all (connection refused, reset, timed out). */
export class NetworkError extends TrueStackError {}

/** 402 INSUFFICIENT_CREDITS. */
export class InsufficientCredits extends TrueStackError {
  get balance(): number | undefined {
    return this.body.balance as number | undefined;
  }
  get available(): number | undefined {
    return this.body.available as number | undefined;
  }
  get required(): number | undefined {
    return this.body.required as number | undefined;
  }
}

function retryAfterOf(headers: Record<string, string>): number | undefined {
  const value = headers["retry-after"];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? seconds : undefined;
}

/** 429 RATE_LIMITED: wait `retryAfter` seconds. */
export class RateLimited extends TrueStackError {
  get retryAfter(): number | undefined {
    return retryAfterOf(this.headers);
  }
}

/** 429 CONCURRENT_SESSION_LIMIT: too many open sessions; wait `retryAfter` seconds. */
export class ConcurrentSessionLimit extends TrueStackError {
  get retryAfter(): number | undefined {
    return retryAfterOf(this.headers);
  }
}

/** A webhook whose signature is missing, wrong or stale: answer 400, do not act on it. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

type ErrorClass = new (message: string, options: ConstructorParameters<typeof TrueStackError>[1]) => TrueStackError;

const BY_CODE: Record<string, ErrorClass> = {
  UNAUTHORIZED: AuthenticationError,
  BAD_REQUEST: ValidationError,
  PAYLOAD_TOO_LARGE: ValidationError,
  UNSUPPORTED_MEDIA_TYPE: ValidationError,
  INSUFFICIENT_CREDITS: InsufficientCredits,
  NOT_FOUND: NotFound,
  IDEMPOTENCY_REQUEST_IN_PROGRESS: IdempotencyError,
  IDEMPOTENCY_KEY_REUSED: IdempotencyError,
  RATE_LIMITED: RateLimited,
  CONCURRENT_SESSION_LIMIT: ConcurrentSessionLimit,
  GATEWAY_ERROR: ProviderError,
  SERVER_ERROR: ServerError,
};

const BY_STATUS: Record<number, ErrorClass> = {
  400: ValidationError,
  401: AuthenticationError,
  402: InsufficientCredits,
  404: NotFound,
  413: ValidationError,
  415: ValidationError,
  422: IdempotencyError,
  429: RateLimited,
  502: ProviderError,
};

/** The typed error for an answer; the code wins over the status. */
export function errorFor(status: number, body: unknown, headers: Record<string, string>): TrueStackError {
  const envelope: ErrorBody = body && typeof body === "object" && !Array.isArray(body) ? (body as ErrorBody) : {};
  const code = typeof envelope.error === "string" ? envelope.error : undefined;
  const message = typeof envelope.message === "string" ? envelope.message : undefined;
  const cls: ErrorClass =
    (code !== undefined ? BY_CODE[code] : undefined) ??
    BY_STATUS[status] ??
    (status >= 500 ? ServerError : TrueStackError);
  return new cls(message ?? `HTTP ${status}`, { status, code: code ?? `HTTP_${status}`, body: envelope, headers });
}
