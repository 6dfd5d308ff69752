// A webhook receiver using the TrueStack Node library (node:http only).
//
//   TRUESTACK_API_KEY=ts_test_... TRUESTACK_WEBHOOK_SECRET=whsec_... node examples/webhook_receiver.mjs 8080
//
// Verify on the raw body before parsing; answer 2xx fast; deduplicate on the event id.
import { createServer } from "node:http";
import { verifyWebhook, WebhookVerificationError } from "@truestack/sdk";

const seen = new Set();

createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    let event;
    try {
      event = verifyWebhook(Buffer.concat(chunks), req.headers, {
        apiKey: process.env.TRUESTACK_API_KEY,
        secret: process.env.TRUESTACK_WEBHOOK_SECRET,
      });
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      res.writeHead(400).end(error.message);
      return;
    }
    if (!seen.has(event.id)) {
      seen.add(event.id);
      console.log(event.event, event.data.session_id, event.data.result);
    }
    res.writeHead(204).end();
  });
}).listen(Number(process.argv[2] ?? 8080), "127.0.0.1");
