"""Create a KYC session with the TrueStack Python library (server side only).

    TRUESTACK_API_KEY=ts_test_... TRUESTACK_BASE_URL=http://localhost:3001 python create_session.py

Prints the created session as JSON; send your user to its `onboarding_url`."""

import json
import os
import sys

from truestack_sdk import TrueStack, TrueStackError

ts = TrueStack(
    os.environ["TRUESTACK_API_KEY"], base_url=os.environ.get("TRUESTACK_BASE_URL", "https://api.truestack.my")
)
try:
    session = ts.sessions.create(
        document_name="Ahmad bin Abdullah",
        document_number="901234-56-7890",
        webhook_url=os.environ.get("TRUESTACK_WEBHOOK_URL", "https://yourapp.example/webhooks/kyc"),
        metadata={"user_id": "usr_12345"},
        # An Idempotency-Key is added for you; pass idempotency_key="order-8841-kyc"
        # to make retries across restarts safe too.
    )
except TrueStackError as exc:
    print(f"{exc.status} {exc.code}: {exc.message}", file=sys.stderr)
    sys.exit(1)

# Store session["id"] with your user, then redirect them to session["onboarding_url"].
print(json.dumps(session))
