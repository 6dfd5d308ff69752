"""GET /api/v1/account, statements and invoices, as the client sees them."""

from datetime import date

import pytest
from rest_framework.test import APIClient

from billing import invoices, services, statements

from .test_invoices import pdf_text, postpaid_january
from .test_statements import at, complete, worked_example_month

pytestmark = pytest.mark.django_db


def api_for(client, make_api_key):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(client)[1]}")
    api.get("/api/v1/account")  # the key's first use writes last_used_at; later requests do not
    return api


def test_account_shows_balance_held_month_and_next_price(
    make_client, make_session, tiers, make_api_key, django_assert_num_queries
):
    acme = make_client(code="ACME")
    tiers(acme, ("Starter", 1, 2, 50), ("Volume", 3, None, 30))
    services.credit_add(client=acme, credits=1000)
    complete(make_session(acme), "approved")
    complete(make_session(acme), "rejected")
    services.hold_place(session=make_session(acme))
    api = api_for(acme, make_api_key)
    with django_assert_num_queries(3):  # key, account with month-to-date usage, tiers
        response = api.get("/api/v1/account")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "balance": 900,
        "held": 50,
        "available": 850,
        "overdraft": False,
        "credits_per_ringgit": 10,
        "balance_rm": "90.00",
        "month": statements.current_month().strftime("%Y-%m"),
        "month_to_date": {"sessions": 2, "credits": 100},
        "next_session": {"credits": 30, "tier": "Volume", "amount_rm": "3.00"},
    }
    assert response["X-RateLimit-Limit"] == "60"


def test_account_of_a_client_without_credits(make_client, make_api_key):
    beta = make_client(code="BETA", allow_overdraft=True)
    body = api_for(beta, make_api_key).get("/api/v1/account").json()
    assert (body["balance"], body["available"], body["overdraft"]) == (0, 0, True)
    assert body["next_session"] == {"credits": 50, "tier": "Default", "amount_rm": "5.00"}


def test_statements_list_detail_and_pdf(make_client, make_session, tiers, make_api_key, django_assert_num_queries):
    acme = worked_example_month(make_client, make_session, tiers)
    with at(2026, 4, 1, 0, 30):
        statements.statement_generate(client=acme, month=date(2026, 3, 1))
    api = api_for(acme, make_api_key)
    with django_assert_num_queries(2):
        page = api.get("/api/v1/account/statements", {"limit": 2}).json()
    assert [s["month"] for s in page["results"]] == ["2026-03", "2026-02"]
    rest = api.get(page["next"]).json()
    assert [s["month"] for s in rest["results"]] == ["2026-01"] and rest["next"] is None
    january = api.get("/api/v1/account/statements/2026-01").json()
    assert january["opening_balance"] == 0 and january["closing_balance"] == 1025
    assert january["credits_added"] == {"topup": 1000, "included": 200, "refund": 50, "adjustment": -15}
    assert january["usage"]["sessions"] == 5 and january["usage"]["credits"] == 210
    assert january["closing_balance_rm"] == "102.50"
    assert january["pdf_url"].endswith("/api/v1/account/statements/2026-01?format=pdf")
    for response in (
        api.get("/api/v1/account/statements/2026-01", {"format": "pdf"}),
        api.get("/api/v1/account/statements/2026-01", HTTP_ACCEPT="application/pdf"),
    ):
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert "Closing balance 1,025" in pdf_text(response.content)
    for missing in ("2025-12", "2026-13", "nope"):
        response = api.get(f"/api/v1/account/statements/{missing}")
        assert response.status_code == 404 and response.json() == {
            "error": "NOT_FOUND",
            "message": "Statement not found",
        }


def test_invoices_list_detail_pdf_and_isolation(
    make_client, make_session, tiers, make_api_key, django_assert_num_queries
):
    beta, _ = postpaid_january(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        invoice = invoices.monthly_invoice_issue(client=beta, month=date(2026, 1, 1))
    with at(2026, 2, 5, 10, 0):
        invoices.payment_record(
            invoice=invoice, amount="10.00", paid_on=date(2026, 2, 5), method="bank_transfer", reference="MBB 889"
        )
    api = api_for(beta, make_api_key)
    with django_assert_num_queries(3):  # key, invoices, their payments
        page = api.get("/api/v1/account/invoices").json()
    assert [i["number"] for i in page["results"]] == ["TS-2026-000002", "TS-2026-000001"]
    detail = api.get("/api/v1/account/invoices/TS-2026-000002").json()
    assert {
        k: detail[k] for k in ("kind", "status", "subtotal", "sst_amount", "total", "amount_paid", "outstanding")
    } == {
        "kind": "monthly",
        "status": "partly_paid",
        "subtotal": "21.50",
        "sst_amount": "1.72",
        "total": "23.22",
        "amount_paid": "10.00",
        "outstanding": "13.22",
    }
    assert detail["payments"] == [
        {"paid_on": "2026-02-05", "amount": "10.00", "method": "bank_transfer", "reference": "MBB 889"}
    ]
    response = api.get("/api/v1/account/invoices/TS-2026-000002", {"format": "pdf"})
    assert response.status_code == 200 and "Total RM 23.22" in pdf_text(response.content)
    # Another client sees none of it.
    other = api_for(make_client(code="OTHER"), make_api_key)
    assert other.get("/api/v1/account/invoices").json()["results"] == []
    assert other.get("/api/v1/account/invoices/TS-2026-000002", {"format": "pdf"}).status_code == 404
    assert other.get("/api/v1/account/statements/2026-01").status_code == 404
    assert APIClient().get("/api/v1/account").status_code == 401


def test_402_carries_available_and_required(make_client, make_session, make_api_key, valid_body, provider):
    acme = make_client(code="ACME")
    services.credit_add(client=acme, credits=60)
    services.hold_place(session=make_session(acme))
    api = api_for(acme, make_api_key)
    response = api.post("/api/v1/kyc/sessions", valid_body, format="json")
    assert response.status_code == 402
    assert response.json() == {
        "error": "INSUFFICIENT_CREDITS",
        "message": "Client credit balance exhausted",
        "balance": 60,
        "available": 10,
        "required": 50,
    }


@pytest.mark.django_db(transaction=True)
def test_real_answers_match_the_schema(live_server, make_client, make_session, tiers, make_api_key):
    """States the fuzzer cannot reach (statements, invoices, payments, PDFs), over real HTTP."""
    from pathlib import Path

    import requests
    import schemathesis
    from django.conf import settings

    schema = schemathesis.openapi.from_path(Path(settings.BASE_DIR) / "docs" / "openapi.yaml")
    beta, _ = postpaid_january(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        invoice = invoices.monthly_invoice_issue(client=beta, month=date(2026, 1, 1))
    invoices.payment_record(invoice=invoice, amount="1.00", paid_on=date(2026, 2, 2), method="cheque")
    invoices.invoice_void(invoice=invoice, reason="Replaced")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {make_api_key(beta)[1]}"
    checks = [
        ("/api/v1/account", "/api/v1/account", {}),
        ("/api/v1/account/statements", "/api/v1/account/statements", {}),
        ("/api/v1/account/statements/{month}", "/api/v1/account/statements/2026-01", {}),
        ("/api/v1/account/statements/{month}", "/api/v1/account/statements/2026-01", {"format": "pdf"}),
        ("/api/v1/account/statements/{month}", "/api/v1/account/statements/1999-01", {}),
        ("/api/v1/account/invoices", "/api/v1/account/invoices", {}),
        ("/api/v1/account/invoices/{number}", "/api/v1/account/invoices/CN-2026-000001", {}),
        ("/api/v1/account/invoices/{number}", "/api/v1/account/invoices/TS-2026-000002", {"format": "pdf"}),
        ("/api/v1/account/invoices", "/api/v1/account/invoices", {"cursor": "garbage"}),
    ]
    try:
        for template, path, params in checks:
            response = http.get(live_server.url + path, params=params, timeout=30)
            assert response.status_code in (200, 400, 404), (path, response.status_code)
            schema[template]["GET"].validate_response(response)
            assert "X-RateLimit-Remaining" in response.headers
    finally:
        http.close()
