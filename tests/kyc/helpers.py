import requests


def sandbox_complete(session_or_url, **body) -> dict:
    """Finish a sandbox transaction over HTTP, as a script or tester would."""
    url = session_or_url if isinstance(session_or_url, str) else session_or_url.onboarding_url
    body.setdefault("outcome", "approved")
    response = requests.post(f"{url}/complete", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def create_session(api, body) -> dict:
    response = api.post("/api/v1/kyc/sessions", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def make_status_session(client, api_key, **fields):
    """A session row in a given state, for pages that only read it (the end-user
    status page): no provider involved."""
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    from kyc.models import KycSession

    session_id = uuid.uuid4()
    values = {
        "id": session_id,
        "client": client,
        "api_key": api_key,
        "ref_id": f"{client.code}_{session_id.hex[:16]}",
        "document_name": "Ahmad bin Abdullah",
        "document_number": "901234-56-7890",
        "webhook_url": "https://yourapp.example/webhooks/kyc",
        "onboarding_url": f"https://ekyc.example/onboarding/{session_id.hex}",
        "expires_at": timezone.now() + timedelta(hours=24),
    }
    values.update(fields)
    return KycSession.objects.create(**values)
