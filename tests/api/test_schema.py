"""The OpenAPI schema: committed file up to date, served publicly, complete,
and the docs page loads its assets from this server (no CDN)."""

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command

COMMITTED = Path(settings.BASE_DIR) / "docs" / "openapi.yaml"
OPERATIONS = {
    ("/api/v1/kyc/sessions", "get"): {"200", "400", "401", "429"},
    ("/api/v1/kyc/sessions", "post"): {"201", "400", "401", "402", "409", "413", "415", "422", "429", "502", "503"},
    ("/api/v1/kyc/sessions/{session_id}", "get"): {"200", "401", "404", "429"},
    ("/api/v1/kyc/sessions/{session_id}", "post"): {"200", "401", "404", "413", "429", "503"},
    ("/api/v1/kyc/sessions/{session_id}/documents/{kind}", "get"): {"200", "302", "401", "404", "410", "429"},
    ("/api/v1/kyc/sessions/{session_id}/redact", "post"): {"202", "401", "404", "409", "413", "429"},
    ("/api/v1/events", "get"): {"200", "400", "401", "429"},
    ("/api/v1/events/{event_id}", "get"): {"200", "401", "404", "429"},
    ("/api/v1/events/{event_id}/redeliver", "post"): {"202", "401", "404", "413", "429"},
    ("/api/v1/events/redeliver", "post"): {"202", "400", "401", "413", "415", "429"},
    ("/api/v1/events/test", "post"): {"200", "400", "401", "413", "415", "429"},
    ("/api/v1/account", "get"): {"200", "401", "429"},
    ("/api/v1/account/statements", "get"): {"200", "400", "401", "429"},
    ("/api/v1/account/statements/{month}", "get"): {"200", "401", "404", "429"},
    ("/api/v1/account/invoices", "get"): {"200", "400", "401", "429"},
    ("/api/v1/account/invoices/{number}", "get"): {"200", "401", "404", "429"},
}


@pytest.fixture(scope="module")
def schema():
    return yaml.safe_load(COMMITTED.read_text())


def test_committed_schema_is_up_to_date(tmp_path):
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", file=str(generated), validate=True, fail_on_warn=True)
    assert generated.read_text() == COMMITTED.read_text(), (
        "docs/openapi.yaml is out of date: run `make schema` and commit the result"
    )


def test_every_client_operation_and_status_is_documented(schema):
    documented = {
        (path, method): set(op["responses"]) for path, item in schema["paths"].items() for method, op in item.items()
    }
    assert documented == OPERATIONS


def test_only_the_client_api_is_documented(schema):
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    assert "servers" not in schema


def test_errors_use_the_envelope_and_429_has_retry_after(schema):
    components = schema["components"]["schemas"]
    assert set(components["Error"]["required"]) == {"error", "message"}
    assert "balance" in components["InsufficientCreditsError"]["required"]
    for (path, method), statuses in OPERATIONS.items():
        responses = schema["paths"][path][method]["responses"]
        for status in statuses - {"200", "201", "202", "302"}:
            ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/InsufficientCreditsError" if status == "402" else "/Error"), (path, method, status)
        assert "Retry-After" in responses["429"]["headers"]
        for status in statuses - {"401", "413"}:
            assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
                responses[status]["headers"]
            ), (path, method, status)


def test_create_documents_idempotency_and_contract_examples(schema):
    create = schema["paths"]["/api/v1/kyc/sessions"]["post"]
    assert [p["name"] for p in create["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
    assert "Idempotent-Replayed" in create["responses"]["201"]["headers"]
    body = create["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["$ref"].split("/")[-1:]) == {"SessionCreateRequest"}
    assert body["examples"]["MyKadSession"]["value"]["document_number"] == "901234-56-7890"
    messages = {
        e["value"]["message"] for e in create["responses"]["400"]["content"]["application/json"]["examples"].values()
    }
    assert {
        "document_name and document_number are required",
        "webhook_url is required",
        "webhook_url must be a valid HTTP/HTTPS URL",
    } <= messages


def test_bearer_security_and_webhook_component(schema):
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        **schema["components"]["securitySchemes"]["ApiKeyAuth"],
        "type": "http",
        "scheme": "bearer",
    }
    event = schema["components"]["schemas"]["WebhookEvent"]
    assert set(event["required"]) == {"id", "event", "timestamp", "data"}
    assert event["properties"]["event"]["enum"] == ["kyc.session.completed", "kyc.session.expired"]
    assert "X-Webhook-Signature" in event["description"]
    assert event["example"]["data"]["face_match_score"] == 0.95
    assert "WebhookEventData" in schema["components"]["schemas"]


@pytest.mark.django_db
def test_schema_is_served_without_a_key(anon_api):
    response = anon_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    served = response.json()
    assert set(served["paths"]) == {path for path, _ in OPERATIONS}


@pytest.mark.django_db
def test_docs_page_loads_assets_locally(anon_api):
    response = anon_api.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.findall(r"https?://", html), "the docs page must not load anything from another host"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset
        assert anon_api.get(asset).status_code == 200, asset
