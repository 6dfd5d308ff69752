// Create a KYC session with the TrueStack Node library (server side only: never ship
// an API key to a browser).
//
//   TRUESTACK_API_KEY=ts_test_... TRUESTACK_BASE_URL=http://localhost:3001 node examples/create_session.mjs
import { TrueStack, TrueStackError } from "@truestack/sdk";

const ts = new TrueStack({
  apiKey: process.env.TRUESTACK_API_KEY,
  baseUrl: process.env.TRUESTACK_BASE_URL ?? "https://api.truestack.my",
});

try {
  // An Idempotency-Key is added for you; pass { idempotencyKey: "order-8841-kyc" } as a
  // second argument to make retries across restarts safe too.
  const session = await ts.sessions.create({
    document_name: "Ahmad bin Abdullah",
    document_number: "901234-56-7890",
    webhook_url: process.env.TRUESTACK_WEBHOOK_URL ?? "https://yourapp.example/webhooks/kyc",
    metadata: { user_id: "usr_12345" },
  });
  // Store session.id with your user, then redirect them to session.onboarding_url.
  console.log(JSON.stringify(session));
} catch (error) {
  if (error instanceof TrueStackError) {
    console.error(`${error.status} ${error.code}: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
