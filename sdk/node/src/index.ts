export { TrueStack, DEFAULT_BASE_URL, DOCUMENT_KINDS } from "./client.js";
export type { TrueStackOptions, RequestOptions, SessionListParams, EventListParams } from "./client.js";
export {
  TrueStackError,
  AuthenticationError,
  ValidationError,
  InsufficientCredits,
  NotFound,
  IdempotencyError,
  RateLimited,
  ConcurrentSessionLimit,
  ProviderError,
  ServerError,
  NetworkError,
  WebhookVerificationError,
  errorFor,
} from "./errors.js";
export { verifyWebhook, DEFAULT_TOLERANCE } from "./webhooks.js";
export type { HeadersLike, VerifyOptions } from "./webhooks.js";
export type * from "./types.js";
export { VERSION } from "./version.js";
