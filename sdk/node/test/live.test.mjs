// Against a live TrueStack (started by tests/sdk/test_node.py in the TrueStack
// repository, which passes the URL, keys and a really delivered webhook in the
// environment). Skipped when run on its own without TRUESTACK_BASE_URL.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  TrueStack,
  verifyWebhook,
  WebhookVerificationError,
  AuthenticationError,
  ValidationError,
  NotFound,
  InsufficientCredits,
  RateLimited,
  IdempotencyError,
  NetworkError,
  TrueStackError,
} from "@truestack/sdk";

const env = process.env;
const skip = env.TRUESTACK_BASE_URL ? false : "TRUESTACK_BASE_URL is not set (run from tests/sdk/test_node.py)";
const BODY = {
  document_name: "Ahmad bin Abdullah",
  document_number: "901234-56-7890",
  webhook_url: "https://yourapp.example/webhooks/kyc",
};

function make(apiKey = env.TRUESTACK_API_KEY, options = {}) {
  const sleeps = [];
  const ts = new TrueStack({
    apiKey,
    baseUrl: env.TRUESTACK_BASE_URL,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...options,
  });
  return { ts, sleeps };
}

test("lifecycle: create, complete in the sandbox, get, refresh, list, documents", { skip }, async () => {
  const { ts } = make();
  const created = await ts.sessions.create({ ...BODY, metadata: { user_id: "usr_node" } });
  assert.equal(created.status, "pending");
  const done = await fetch(`${created.onboarding_url}/complete`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ outcome: "approved" }),
  });
  assert.equal(done.status, 200);

  const detail = await ts.sessions.get(created.id);
  assert.equal(detail.status, "completed");
  assert.equal(detail.result, "approved");
  assert.deepEqual(detail.metadata, { user_id: "usr_node" });

  const refreshed = await ts.sessions.refresh(created.id);
  assert.equal(refreshed.refreshed, false);
  assert.equal(refreshed.message, "Session already finalized");

  const ids = [];
  for await (const item of ts.sessions.list({ metadata_key: "user_id", metadata_value: "usr_node", limit: 1 })) ids.push(item.id);
  assert.deepEqual(ids, [created.id]);

  const images = await ts.documents.downloadAll(detail);
  assert.deepEqual(Object.keys(images).sort(), ["back_document", "best_frame", "face_image", "front_document"]);
  for (const data of Object.values(images)) assert.deepEqual([...data.slice(0, 3)], [0xff, 0xd8, 0xff]);
});

test("a document redirect is followed without the API key", { skip }, async () => {
  const seen = [];
  const recording = async (url, init) => {
    const response = await fetch(url, init);
    seen.push([url, init.headers?.Authorization ?? null, response.status]);
    return response;
  };
  const { ts } = make(env.TRUESTACK_API_KEY, { fetch: recording });
  const created = await ts.sessions.create(BODY);
  await fetch(`${created.onboarding_url}/complete`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ outcome: "approved" }),
  });
  const data = await ts.documents.download(created.id, "face_image");
  const [documentCall, imageCall] = seen.slice(-2);
  assert.ok(documentCall[0].endsWith(`/api/v1/kyc/sessions/${created.id}/documents/face_image`));
  assert.deepEqual(documentCall.slice(1), [`Bearer ${env.TRUESTACK_API_KEY}`, 302]);
  assert.ok(imageCall[0].includes("/files/"));
  assert.deepEqual(imageCall.slice(1), [null, 200]); // the key never goes to the storage URL
  assert.deepEqual([...data.slice(0, 3)], [0xff, 0xd8, 0xff]);
});

test("paging goes through every page", { skip }, async () => {
  const { ts } = make();
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await ts.sessions.create({ ...BODY, metadata: { batch: "paging" } })).id);
  const listed = [];
  for await (const item of ts.sessions.list({ metadata_key: "batch", metadata_value: "paging", limit: 2 })) listed.push(item.id);
  assert.deepEqual(listed, ids.reverse());
});

test("a retried create is de-duplicated by its automatic Idempotency-Key", { skip }, async () => {
  const sent = [];
  const dropFirst = async (url, init) => {
    const response = await fetch(url, init);
    sent.push([init.headers["Idempotency-Key"], response.status, response.headers.get("idempotent-replayed")]);
    if (sent.length === 1) throw new TypeError("fetch failed"); // the answer is lost on the way back
    return response;
  };
  const { ts, sleeps } = make(env.TRUESTACK_API_KEY, { fetch: dropFirst });
  const created = await ts.sessions.create({ ...BODY, metadata: { batch: "dedupe" } });
  assert.equal(sent.length, 2);
  assert.ok(sent[0][0]);
  assert.equal(sent[0][0], sent[1][0]);
  assert.deepEqual([sent[0][1], sent[1][1], sent[1][2]], [201, 201, "true"]);
  assert.equal(sleeps.length, 1);
  const listed = [];
  for await (const item of make().ts.sessions.list({ metadata_key: "batch", metadata_value: "dedupe" })) listed.push(item.id);
  assert.deepEqual(listed, [created.id]);
});

test("errors: 401, 400, 404, 402, 422, 409, 429, network", { skip }, async () => {
  await assert.rejects(make("ts_live_nope").ts.sessions.get("550e8400-e29b-41d4-a716-446655440000"), (e) =>
    e instanceof AuthenticationError && e.status === 401 && e.code === "UNAUTHORIZED");

  const { ts, sleeps } = make();
  await assert.rejects(ts.sessions.create({ ...BODY, document_number: "12" }), (e) =>
    e instanceof ValidationError && e.status === 400 &&
    e.message === "document_number must be a 12-digit MyKad number (dashes and spaces are allowed)");
  await assert.rejects(ts.sessions.get("550e8400-e29b-41d4-a716-446655440000"), (e) =>
    e instanceof NotFound && e.message === "Session not found" && e.body.error === "NOT_FOUND");
  await assert.rejects(make(env.TRUESTACK_NO_CREDITS_KEY).ts.sessions.create(BODY), (e) =>
    e instanceof InsufficientCredits && e.status === 402 && e.balance === 0);

  await ts.sessions.create(BODY, { idempotencyKey: "node-order-1" });
  await assert.rejects(ts.sessions.create({ ...BODY, document_name: "Siti" }, { idempotencyKey: "node-order-1" }), (e) =>
    e instanceof IdempotencyError && e.status === 422 && e.code === "IDEMPOTENCY_KEY_REUSED");
  assert.deepEqual(sleeps, []);

  const retrying = make(env.TRUESTACK_API_KEY, { maxRetries: 2 });
  await assert.rejects(retrying.ts.sessions.create(BODY, { idempotencyKey: env.TRUESTACK_IN_PROGRESS_KEY }), (e) =>
    e instanceof IdempotencyError && e.status === 409 && e.code === "IDEMPOTENCY_REQUEST_IN_PROGRESS");
  assert.equal(retrying.sleeps.length, 2);

  const limited = make(env.TRUESTACK_LIMITED_KEY, { maxRetries: 2 });
  await limited.ts.sessions.create(BODY);
  await limited.ts.sessions.create(BODY);
  await assert.rejects(limited.ts.sessions.create(BODY), (e) =>
    e instanceof RateLimited && e.status === 429 && e.retryAfter === 30);
  assert.deepEqual(limited.sleeps, [30000, 30000]); // Retry-After honoured on each retry

  const downSleeps = [];
  const down = new TrueStack({ apiKey: "ts_test_x", baseUrl: "http://127.0.0.1:9", maxRetries: 3, sleep: async (ms) => downSleeps.push(ms) });
  await assert.rejects(down.sessions.get("x"), (e) => e instanceof NetworkError && e.status === null && e instanceof TrueStackError);
  assert.equal(downSleeps.length, 3);
});

test("webhooks really delivered by TrueStack verify with both schemes; tampered and stale refused", { skip }, async () => {
  const hook = JSON.parse(readFileSync(env.TRUESTACK_WEBHOOK_CAPTURE, "utf8"));
  const body = Buffer.from(hook.body_base64, "base64");
  const byKey = verifyWebhook(body, hook.headers, { apiKey: hook.api_key });
  const bySecret = verifyWebhook(body, hook.headers, { secret: hook.secret });
  const both = verifyWebhook(body, new Headers(hook.headers), { apiKey: hook.api_key, secret: hook.secret });
  assert.deepEqual(byKey, bySecret);
  assert.deepEqual(both, JSON.parse(body.toString()));
  assert.equal(both.event, "kyc.session.completed");
  assert.equal(both.data.session_id, hook.session_id);

  const tampered = Buffer.from(body.toString().replace("approved", "rejected"));
  assert.notDeepEqual(tampered, body);
  assert.throws(() => verifyWebhook(tampered, hook.headers, { apiKey: hook.api_key }), WebhookVerificationError);
  assert.throws(() => verifyWebhook(tampered, hook.headers, { secret: hook.secret }), WebhookVerificationError);
  assert.throws(() => verifyWebhook(body, hook.headers, { apiKey: hook.api_key + "x" }), WebhookVerificationError);

  const sentAt = Number(hook.headers["webhook-timestamp"]);
  assert.ok(verifyWebhook(body, hook.headers, { secret: hook.secret, now: sentAt + 299 }));
  assert.throws(() => verifyWebhook(body, hook.headers, { secret: hook.secret, now: sentAt + 301 }), /tolerance/);
});
