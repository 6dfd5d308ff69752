/** Webhook verification for both of TrueStack's signature schemes (node:crypto only). */

import { createHmac, timingSafeEqual } from "node:crypto";

import { WebhookVerificationError } from "./errors.js";
import type { WebhookEvent, WebhookRedactedEvent } from "./types.js";

export const DEFAULT_TOLERANCE = 300;

export type HeadersLike =
  | { get(name: string): string | null }
  | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** Checks `X-Webhook-Signature` (hex HMAC-SHA256 of the body keyed with the API key that created the session). */
  apiKey?: string;
  /** Your `whsec_` secret: checks the Standard Webhooks headers and the timestamp. */
  secret?: string;
  /** Seconds a Standard Webhooks timestamp may be away from now (default 300). */
  tolerance?: number;
  /** Unix seconds to treat as now (tests). */
  now?: number;
}

function header(headers: HeadersLike, name: string): string {
  if (typeof (headers as { get?: unknown }).get === "function") {
    return ((headers as { get(name: string): string | null }).get(name) ?? "").trim();
  }
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === name) {
      return (Array.isArray(value) ? value.join(",") : (value ?? "")).trim();
    }
  }
  return "";
}

function equal(a: Buffer, b: Buffer): boolean {
  // timingSafeEqual needs equal lengths; the length of a signature is no secret.
  return a.length === b.length && timingSafeEqual(a, b);
}

function checkApiKeySignature(body: Buffer, headers: HeadersLike, apiKey: string): void {
  const received = header(headers, "x-webhook-signature");
  if (!received) throw new WebhookVerificationError("missing X-Webhook-Signature header");
  const expected = createHmac("sha256", apiKey).update(body).digest("hex");
  if (!equal(Buffer.from(expected), Buffer.from(received))) {
    throw new WebhookVerificationError("X-Webhook-Signature does not match the body");
  }
}

function checkStandardWebhooks(body: Buffer, headers: HeadersLike, secret: string, tolerance: number, now?: number) {
  const msgId = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!msgId || !timestamp || !signatures) {
    throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError("webhook-timestamp is not a Unix time");
  const sentAt = Number(timestamp);
  const current = now ?? Date.now() / 1000;
  if (Math.abs(current - sentAt) > tolerance) {
    throw new WebhookVerificationError("webhook-timestamp is outside the tolerance (stale or replayed)");
  }
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret, "base64");
  const expected = Buffer.from(
    createHmac("sha256", key)
      .update(Buffer.concat([Buffer.from(`${msgId}.${sentAt}.`), body]))
      .digest("base64"),
  );
  let matched = false;
  for (const candidate of signatures.split(" ")) {
    const comma = candidate.indexOf(",");
    if (comma < 0) continue;
    // Every candidate is compared (no early exit).
    if (candidate.slice(0, comma) === "v1" && equal(expected, Buffer.from(candidate.slice(comma + 1)))) matched = true;
  }
  if (!matched) throw new WebhookVerificationError("no webhook-signature matches the body");
}

/**
 * Verify a webhook on its exact raw body and return the parsed event. Give `apiKey`,
 * `secret` or both; every scheme given must pass. Throws WebhookVerificationError.
 */
export function verifyWebhook(
  body: Uint8Array | string,
  headers: HeadersLike,
  options: VerifyOptions,
): WebhookEvent | WebhookRedactedEvent {
  const { apiKey, secret, tolerance = DEFAULT_TOLERANCE, now } = options;
  if (apiKey === undefined && secret === undefined) throw new TypeError("give apiKey, secret or both");
  const raw = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
  if (secret !== undefined) checkStandardWebhooks(raw, headers, secret, tolerance, now);
  if (apiKey !== undefined) checkApiKeySignature(raw, headers, apiKey);
  let event: unknown;
  try {
    event = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new WebhookVerificationError("body is not JSON");
  }
  if (!event || typeof event !== "object" || Array.isArray(event)) {
    throw new WebhookVerificationError("body is not a JSON object");
  }
  return event as WebhookEvent | WebhookRedactedEvent;
}
