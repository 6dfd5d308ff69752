"""The client contract's Python example, runnable:

TRUESTACK_API_KEY=ts_test_... TRUESTACK_BASE_URL=http://localhost:3001 python examples/seed/create_session.py
"""

import json
import os

import requests

api_key = os.environ["TRUESTACK_API_KEY"]
base_url = os.environ.get("TRUESTACK_BASE_URL", "https://api.truestack.my")

response = requests.post(
    f"{base_url}/api/v1/kyc/sessions",
    headers={
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
    },
    json={
        "document_name": "Ahmad bin Abdullah",
        "document_number": "901234-56-7890",
        "webhook_url": "https://yourapp.com/webhooks/kyc",  # Required
        "metadata": {"user_id": "usr_12345"},
    },
    timeout=30,
)

data = response.json()
session_id = data["id"]
onboarding_url = data["onboarding_url"]
print(response.status_code, json.dumps({"id": session_id, "onboarding_url": onboarding_url}))

# Redirect user to onboarding_url
