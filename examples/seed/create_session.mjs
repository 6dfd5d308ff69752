// The client contract's JavaScript example, runnable with Node 18+:
//   TRUESTACK_API_KEY=ts_test_... TRUESTACK_BASE_URL=http://localhost:3001 node examples/seed/create_session.mjs
//
// This call belongs on your SERVER: an API key must never be shipped to a browser.
// Your server creates the session and sends the browser only `onboarding_url`.
const apiKey = process.env.TRUESTACK_API_KEY;
const baseUrl = process.env.TRUESTACK_BASE_URL ?? 'https://api.truestack.my';

const response = await fetch(`${baseUrl}/api/v1/kyc/sessions`, {
  method: 'POST',
  headers: {
    'Authorization': `Bearer ${apiKey}`,
    'Content-Type': 'application/json',
  },
  body: JSON.stringify({
    document_name: 'Ahmad bin Abdullah',
    document_number: '901234-56-7890',
    webhook_url: 'https://yourapp.com/webhooks/kyc',  // Required
    metadata: { user_id: 'usr_12345' },
  }),
});

const { id, onboarding_url } = await response.json();
console.log(response.status, JSON.stringify({ id, onboarding_url }));

// Redirect user to onboarding_url: from your server (an HTTP 302 to onboarding_url), or
// in a page your server rendered. There is no window in Node, so this only runs in a browser.
if (typeof window !== 'undefined') {
  window.location.href = onboarding_url;
}
