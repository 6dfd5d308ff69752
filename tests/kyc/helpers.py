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
