// Offline tests: error mapping, webhook verification of self-signed messages, and the
// request construction of the account and events calls against a tiny local server
// (those endpoints are not in every TrueStack yet).
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { test, before, after } from "node:test";

import {
  TrueStack,
  VERSION,
  errorFor,
  verifyWebhook,
  WebhookVerificationError,
  ServerError,
  ValidationError,
  InsufficientCredits,
  IdempotencyError,
  RateLimited,
  NotFound,
} from "@truestack/sdk";

test("VERSION matches package.json", () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  assert.equal(VERSION, pkg.version);
});

test("errorFor maps codes and statuses", () => {
  assert.ok(errorFor(400, { error: "BAD_REQUEST", message: "x" }, {}) instanceof ValidationError);
  const credits = errorFor(402, { error: "INSUFFICIENT_CREDITS", message: "m", balance: 20, required: 50 }, {});
  assert.ok(credits instanceof InsufficientCredits);
  assert.equal(credits.balance, 20);
  assert.equal(credits.required, 50);
  assert.equal(credits.available, undefined);
  assert.ok(errorFor(422, { error: "IDEMPOTENCY_KEY_REUSED", message: "m" }, {}) instanceof IdempotencyError);
  const limited = errorFor(429, { error: "RATE_LIMITED", message: "m" }, { "retry-after": "42" });
  assert.ok(limited instanceof RateLimited);
  assert.equal(limited.retryAfter, 42);
  const html = errorFor(503, "<html>", {});
  assert.ok(html instanceof ServerError);
  assert.equal(html.code, "HTTP_503");
  assert.equal(html.message, "HTTP 503");
});

const SECRET = "whsec_" + Buffer.from("0123456789abcdef0123456789abcdef").toString("base64");

function sign(body, id, ts, secret = SECRET) {
  const key = Buffer.from(secret.slice(6), "base64");
  return "v1," + createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest("base64");
}

test("verifyWebhook: Standard Webhooks with several signatures, stale and tampered", () => {
  const body = JSON.stringify({ id: "evt_1", event: "kyc.session.expired", data: {} });
  const now = Math.floor(Date.now() / 1000);
  const other = sign(body, "msg_1", now, "whsec_" + Buffer.from("x".repeat(32)).toString("base64"));
  const headers = {
    "Webhook-Id": "msg_1",
    "webhook-timestamp": String(now),
    "webhook-signature": `v2,zzz ${other} ${sign(body, "msg_1", now)}`,
  };
  assert.equal(verifyWebhook(body, headers, { secret: SECRET }).id, "evt_1");
  assert.equal(verifyWebhook(Buffer.from(body), new Headers(headers), { secret: SECRET }).id, "evt_1");
  assert.throws(() => verifyWebhook(body, { ...headers, "webhook-signature": other }, { secret: SECRET }), WebhookVerificationError);
  assert.throws(() => verifyWebhook(body + " ", headers, { secret: SECRET }), /no webhook-signature matches/);
  assert.throws(() => verifyWebhook(body, headers, { secret: SECRET, now: now + 301 }), /tolerance/);
  assert.throws(() => verifyWebhook(body, { "webhook-id": "msg_1" }, { secret: SECRET }), /missing/);
  assert.throws(() => verifyWebhook(body, headers, {}), TypeError);
});

let server;
let base;
const seen = [];
const answers = new Map();

before(async () => {
  server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url, "http://stub");
      seen.push({
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      const answer = answers.get(`${req.method} ${url.pathname}${url.search}`) ??
        answers.get(`${req.method} ${url.pathname}`) ?? [404, { error: "NOT_FOUND", message: "Not found" }];
      const [status, payload, type] = answer;
      const data = Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload));
      res.writeHead(status, { "Content-Type": type ?? "application/json", "Content-Length": data.length });
      res.end(data);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((resolve) => server.close(resolve)));

function client() {
  seen.length = 0;
  answers.clear();
  return new TrueStack({ apiKey: "ts_test_abc", baseUrl: base, sleep: async () => {} });
}

test("account.get, statements (cursor), statement json and pdf, invoices", async () => {
  const ts = client();
  answers.set("GET /api/v1/account", [200, { client_code: "ACME", balance: 950 }]);
  assert.deepEqual(await ts.account.get(), { client_code: "ACME", balance: 950 });
  assert.equal(seen[0].headers.authorization, "Bearer ts_test_abc");
  assert.match(seen[0].headers["user-agent"], /^truestack-sdk-node\//);

  answers.set("GET /api/v1/account/statements", [
    200,
    { next: "http://elsewhere.example/api/v1/account/statements?cursor=abc&limit=1", previous: null, results: [{ month: "2026-02" }] },
  ]);
  answers.set("GET /api/v1/account/statements?cursor=abc&limit=1", [200, { next: null, previous: null, results: [{ month: "2026-01" }] }]);
  const months = [];
  for await (const statement of ts.account.statements()) months.push(statement.month);
  assert.deepEqual(months, ["2026-02", "2026-01"]);
  assert.deepEqual(seen.slice(1).map((r) => r.query), [{}, { cursor: "abc", limit: "1" }]);

  answers.set("GET /api/v1/account/statements/2026-01", [200, { month: "2026-01" }]);
  answers.set("GET /api/v1/account/statements/2026-01?format=pdf", [200, Buffer.from("%PDF-1.7 x"), "application/pdf"]);
  assert.deepEqual(await ts.account.statement("2026-01"), { month: "2026-01" });
  const pdf = await ts.account.statement("2026-01", { pdf: true });
  assert.equal(Buffer.from(pdf).toString(), "%PDF-1.7 x");

  answers.set("GET /api/v1/account/invoices", [200, { next: null, previous: null, results: [{ id: "INV-1" }] }]);
  const invoices = [];
  for await (const invoice of ts.account.invoices()) invoices.push(invoice.id);
  assert.deepEqual(invoices, ["INV-1"]);
});

test("events.list filters, get, redeliver, redeliverRange, sendTest", async () => {
  const ts = client();
  answers.set("GET /api/v1/events", [200, { next: null, previous: null, results: [{ id: "e1" }] }]);
  const events = [];
  for await (const event of ts.events.list({
    type: "kyc.session.completed",
    session_id: "s1",
    created_after: new Date(Date.UTC(2026, 0, 1)),
    created_before: "2026-02-01",
  })) events.push(event);
  assert.deepEqual(events, [{ id: "e1" }]);
  assert.deepEqual(seen[0].query, {
    type: "kyc.session.completed",
    session_id: "s1",
    created_after: "2026-01-01T00:00:00.000Z",
    created_before: "2026-02-01",
  });

  answers.set("GET /api/v1/events/e1", [200, { id: "e1", type: "kyc.session.completed" }]);
  assert.equal((await ts.events.get("e1")).type, "kyc.session.completed");

  answers.set("POST /api/v1/events/e1/redeliver", [202, { id: "e1", queued: true }]);
  assert.deepEqual(await ts.events.redeliver("e1"), { id: "e1", queued: true });
  assert.equal(seen.at(-1).body, "");

  answers.set("POST /api/v1/events/redeliver", [202, { count: 3 }]);
  assert.deepEqual(await ts.events.redeliverRange("2026-01-01", "2026-01-02"), { count: 3 });
  assert.equal(seen.at(-1).headers["content-type"], "application/json");
  assert.deepEqual(JSON.parse(seen.at(-1).body), { created_after: "2026-01-01", created_before: "2026-01-02", status: "failed" });

  answers.set("POST /api/v1/events/test", [202, { url: "https://yourapp.example/hooks" }]);
  await ts.events.sendTest("https://yourapp.example/hooks");
  assert.deepEqual(JSON.parse(seen.at(-1).body), { url: "https://yourapp.example/hooks" });
  assert.ok(seen.every((r) => !("idempotency-key" in r.headers)));
});

test("POST errors are typed and never retried", async () => {
  const ts = client();
  answers.set("POST /api/v1/events/nope/redeliver", [503, { error: "SERVER_ERROR", message: "Busy" }]);
  await assert.rejects(ts.events.redeliver("nope"), (error) => error instanceof ServerError && error.status === 503);
  assert.equal(seen.length, 1);
  await assert.rejects(ts.events.get("missing"), NotFound);
});
