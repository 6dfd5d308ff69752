/** The HTTP client: Bearer auth, JSON, typed errors, safe retries, cursor paging. */

import { randomUUID } from "node:crypto";

import { errorFor, NetworkError, TrueStackError } from "./errors.js";
import type {
  Account,
  DocumentKind,
  Event,
  Invoice,
  RedeliveryAccepted,
  SessionCreated,
  SessionCreateRequest,
  SessionDetail,
  SessionRefresh,
  SessionResult,
  SessionStatus,
  SessionSummary,
  Statement,
} from "./types.js";
import { VERSION } from "./version.js";

export const DEFAULT_BASE_URL = "https://api.truestack.my";
export const DOCUMENT_KINDS: readonly DocumentKind[] = ["front_document", "back_document", "face_image", "best_frame"];
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;
type DateLike = string | Date;
type Query = Record<string, string | number | Date | undefined | null>;

export interface TrueStackOptions {
  apiKey: string;
  baseUrl?: string;
  /** Per attempt, in milliseconds (default 30 000). */
  timeoutMs?: number;
  /** Retries of idempotent calls (GET and create); 0 turns them off. Default 3. */
  maxRetries?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** A Retry-After longer than this is not waited for: the error is thrown. Default 60 000. */
  maxRetryAfterMs?: number;
  /** Injectable wait (tests, schedulers). */
  sleep?: (ms: number) => Promise<void>;
  /** Injectable fetch (proxies, tests). Default: the global fetch. */
  fetch?: FetchLike;
  userAgent?: string;
}

export interface RequestOptions {
  query?: Query;
  json?: unknown;
  headers?: Record<string, string>;
  retry?: boolean;
  redirect?: RequestRedirect;
}

export interface SessionListParams {
  status?: SessionStatus;
  result?: SessionResult;
  created_after?: DateLike;
  created_before?: DateLike;
  metadata_key?: string;
  metadata_value?: string;
  /** Page size (1-200). The iterator still goes through every page. */
  limit?: number;
}

export interface EventListParams {
  type?: string;
  session_id?: string;
  created_after?: DateLike;
  created_before?: DateLike;
}

function param(value: string | number | Date): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

function headersOf(response: Response): Record<string, string> {
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    out[name.toLowerCase()] = value;
  });
  return out;
}

async function bodyOf(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class TrueStack {
  readonly apiKey: string;
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly maxRetryAfterMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly fetch: FetchLike;
  readonly userAgent: string;
  readonly sessions: Sessions;
  readonly documents: Documents;
  readonly account: AccountApi;
  readonly events: Events;

  constructor(options: TrueStackOptions) {
    if (!options || !options.apiKey) throw new TypeError("apiKey is required");
    this.apiKey = options.apiKey;
    this.baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxRetries = Math.max(0, Math.floor(options.maxRetries ?? 3));
    this.backoffBaseMs = options.backoffBaseMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.userAgent = options.userAgent ?? `truestack-sdk-node/${VERSION}`;
    this.sessions = new Sessions(this);
    this.documents = new Documents(this);
    this.account = new AccountApi(this);
    this.events = new Events(this);
  }

  private backoff(attempt: number): number {
    const delay = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** attempt);
    return delay * (0.5 + Math.random() / 2);
  }

  /** Milliseconds to wait before another try, or null when the answer is final. */
  private async retryDelay(response: Response, attempt: number): Promise<number | null> {
    if (response.status === 409) {
      const body = (await bodyOf(response.clone())) as { error?: string } | undefined;
      return body?.error === "IDEMPOTENCY_REQUEST_IN_PROGRESS" ? this.backoff(attempt) : null;
    }
    if (!RETRY_STATUSES.has(response.status)) return null;
    const retryAfter = response.headers.get("retry-after");
    if (retryAfter !== null) {
      const seconds = Number(retryAfter);
      if (!Number.isFinite(seconds)) return this.backoff(attempt);
      const ms = Math.max(0, seconds * 1000);
      return ms <= this.maxRetryAfterMs ? ms : null;
    }
    return this.backoff(attempt);
  }

  url(path: string, query?: Query): string {
    const url = new URL(/^https?:\/\//.test(path) ? path : `${this.baseUrl}${path}`);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(name, param(value));
    }
    return url.toString();
  }

  /** One API call. Throws the typed TrueStackError for any 4xx/5xx. `retry` only for idempotent calls. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = this.url(path, options.query);
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.apiKey}`,
      Accept: "application/json",
      "User-Agent": this.userAgent,
      ...(options.json !== undefined ? { "Content-Type": "application/json" } : {}),
      ...(options.headers ?? {}),
    };
    const body = options.json !== undefined ? JSON.stringify(options.json) : undefined;
    for (let attempt = 0; ; attempt++) {
      const canRetry = Boolean(options.retry) && attempt < this.maxRetries;
      let response: Response;
      try {
        response = await this.fetch(url, {
          method,
          headers,
          body,
          redirect: options.redirect ?? "follow",
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        if (canRetry) {
          await this.sleep(this.backoff(attempt));
          continue;
        }
        const reason = error instanceof Error ? error.name : "Error";
        throw new NetworkError(`${method} ${url} failed: ${reason}`, { code: "NETWORK_ERROR" });
      }
      if (response.status < 400) return response;
      const delay = canRetry ? await this.retryDelay(response, attempt) : null;
      if (delay === null) throw errorFor(response.status, await bodyOf(response), headersOf(response));
      await response.body?.cancel();
      await this.sleep(delay);
    }
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.request(method, path, options);
    return (await bodyOf(response)) as T;
  }

  /** Every item of a cursor-paginated listing, following `next` until it is null. Only
   * the query of `next` is used, so paging stays on this client's base URL. */
  async *paginate<T>(path: string, query: Query = {}): AsyncGenerator<T, void, undefined> {
    let current: Query = query;
    for (;;) {
      const page = await this.json<{ results?: T[]; next?: string | null } | T[]>("GET", path, {
        query: current,
        retry: true,
      });
      if (Array.isArray(page)) {
        yield* page;
        return;
      }
      yield* page.results ?? [];
      if (!page.next) return;
      current = Object.fromEntries(new URL(page.next).searchParams.entries());
    }
  }
}

export class Sessions {
  constructor(private readonly client: TrueStack) {}

  /** POST /api/v1/kyc/sessions with an Idempotency-Key (a new UUID unless given) that
   * every retry of this call reuses, so a retry never creates a second session. */
  create(body: SessionCreateRequest, options: { idempotencyKey?: string } = {}): Promise<SessionCreated> {
    return this.client.json<SessionCreated>("POST", "/api/v1/kyc/sessions", {
      json: body,
      headers: { "Idempotency-Key": options.idempotencyKey ?? randomUUID() },
      retry: true,
    });
  }

  get(id: string): Promise<SessionDetail> {
    return this.client.json<SessionDetail>("GET", `/api/v1/kyc/sessions/${encodeURIComponent(id)}`, { retry: true });
  }

  /** Asks the provider for the latest status. Not retried automatically. */
  refresh(id: string): Promise<SessionRefresh> {
    return this.client.json<SessionRefresh>("POST", `/api/v1/kyc/sessions/${encodeURIComponent(id)}`);
  }

  /** Every matching session, newest first, across all pages: `for await (const s of ts.sessions.list())`. */
  list(params: SessionListParams = {}): AsyncGenerator<SessionSummary, void, undefined> {
    return this.client.paginate<SessionSummary>("/api/v1/kyc/sessions", { ...params });
  }
}

export class Documents {
  constructor(private readonly client: TrueStack) {}

  /** The JPEG bytes of one image. TrueStack answers the image or a 302 to a presigned
   * URL; the redirect is followed without the API key (the URL carries its own signature). */
  async download(id: string, kind: DocumentKind): Promise<Uint8Array> {
    if (!DOCUMENT_KINDS.includes(kind)) throw new TypeError(`kind must be one of ${DOCUMENT_KINDS.join(", ")}`);
    let response = await this.client.request(
      "GET",
      `/api/v1/kyc/sessions/${encodeURIComponent(id)}/documents/${kind}`,
      { retry: true, redirect: "manual" },
    );
    for (let hops = 0; response.status >= 300 && response.status < 400 && hops < 5; hops++) {
      const location = response.headers.get("location");
      if (!location) break;
      await response.body?.cancel();
      response = await this.client.fetch(new URL(location, response.url || this.client.baseUrl).toString(), {
        redirect: "manual",
        signal: AbortSignal.timeout(this.client.timeoutMs),
      });
    }
    if (response.status >= 300) {
      throw new TrueStackError(`image download failed with HTTP ${response.status}`, {
        status: response.status,
        code: `HTTP_${response.status}`,
      });
    }
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Every image a completed session has (from a `sessions.get()` answer). */
  async downloadAll(session: SessionDetail): Promise<Partial<Record<DocumentKind, Uint8Array>>> {
    const out: Partial<Record<DocumentKind, Uint8Array>> = {};
    for (const kind of DOCUMENT_KINDS) {
      if (session.documents?.[kind]) out[kind] = await this.download(session.id, kind);
    }
    return out;
  }
}

export class AccountApi {
  constructor(private readonly client: TrueStack) {}

  get(): Promise<Account> {
    return this.client.json<Account>("GET", "/api/v1/account", { retry: true });
  }

  statements(): AsyncGenerator<Statement, void, undefined> {
    return this.client.paginate<Statement>("/api/v1/account/statements");
  }

  /** One month (`YYYY-MM`): the JSON statement, or the PDF's bytes with `{ pdf: true }`. */
  statement(month: string): Promise<Statement>;
  statement(month: string, options: { pdf: true }): Promise<Uint8Array>;
  statement(month: string, options: { pdf?: boolean }): Promise<Statement | Uint8Array>;
  async statement(month: string, options: { pdf?: boolean } = {}): Promise<Statement | Uint8Array> {
    const path = `/api/v1/account/statements/${encodeURIComponent(month)}`;
    if (options.pdf) {
      const response = await this.client.request("GET", path, {
        query: { format: "pdf" },
        headers: { Accept: "application/pdf" },
        retry: true,
      });
      return new Uint8Array(await response.arrayBuffer());
    }
    return this.client.json<Statement>("GET", path, { retry: true });
  }

  invoices(): AsyncGenerator<Invoice, void, undefined> {
    return this.client.paginate<Invoice>("/api/v1/account/invoices");
  }
}

export class Events {
  constructor(private readonly client: TrueStack) {}

  list(params: EventListParams = {}): AsyncGenerator<Event, void, undefined> {
    return this.client.paginate<Event>("/api/v1/events", { ...params });
  }

  get(id: string): Promise<Event> {
    return this.client.json<Event>("GET", `/api/v1/events/${encodeURIComponent(id)}`, { retry: true });
  }

  /** Queue the event again (202). */
  redeliver(id: string): Promise<Record<string, unknown>> {
    return this.client.json("POST", `/api/v1/events/${encodeURIComponent(id)}/redeliver`);
  }

  /** Queue every event in the range whose delivery has `status` (202, with the `count` queued). */
  redeliverRange(createdAfter: DateLike, createdBefore: DateLike, status = "failed"): Promise<RedeliveryAccepted> {
    return this.client.json<RedeliveryAccepted>("POST", "/api/v1/events/redeliver", {
      json: { created_after: param(createdAfter), created_before: param(createdBefore), status },
    });
  }

  /** Send a signed test event to `url`. */
  sendTest(url: string): Promise<Record<string, unknown>> {
    return this.client.json("POST", "/api/v1/events/test", { json: { url } });
  }
}
