"""Inputs the fuzzer found answering 500 on PostgreSQL: each is now a 400."""

import json

import pytest

pytestmark = pytest.mark.django_db

VALID = {
    "document_name": "Ahmad bin Abdullah",
    "document_number": "901234-56-7890",
    "webhook_url": "https://yourapp.example/webhooks/kyc",
}


def _post_raw(api, text: str):
    return api.post("/api/v1/kyc/sessions", text, content_type="application/json")


def _bad_request(response, message: str):
    assert response.status_code == 400, response.content
    assert response.json() == {"error": "BAD_REQUEST", "message": message}


@pytest.mark.parametrize(
    "change",
    [
        {"document_name": "Ahmad\u0000"},
        {"webhook_url": "https://yourapp.example/\u0000"},
        {"redirect_url": "https://yourapp.example/\u0000"},
        {"metadata": {"user_id": "\u0000"}},
        {"metadata": {"\u0000": 1}},
    ],
)
def test_nul_characters_are_400(api, change):
    _bad_request(
        _post_raw(api, json.dumps({**VALID, **change})),
        "Request body must not contain NUL characters or invalid Unicode",
    )


def test_lone_surrogate_is_400(api):
    _bad_request(
        _post_raw(api, json.dumps({**VALID, "document_name": "\ud800"})),
        "Request body must not contain NUL characters or invalid Unicode",
    )


def test_number_too_large_for_json_storage_is_400(api):
    text = json.dumps({**VALID, "metadata": {"amount": 1}}).replace('"amount": 1', '"amount": 1e999')
    _bad_request(_post_raw(api, text), "Request body must not contain numbers too large to represent")


def test_deeply_nested_metadata_is_400(api):
    text = json.dumps({**VALID, "metadata": {"a": "X"}}).replace('"X"', "[" * 40 + "]" * 40)
    _bad_request(_post_raw(api, text), "Request body must not be nested more than 32 levels deep")


def test_metadata_nested_within_the_limit_is_accepted_by_validation():
    from kyc.validation import validate_session_create

    nested = {"a": {"b": [1, [2, {"c": "d"}]]}}
    assert validate_session_create({**VALID, "metadata": nested})["metadata"] == nested


@pytest.mark.parametrize(
    "query, name",
    [
        ("created_after=2026-02-30", "created_after"),
        ("created_after=2026-01-01T10:00:00%2B25:00", "created_after"),
        ("created_before=0001-01-01T00:00:00%2B01:00", "created_before"),
        ("created_before=yesterday", "created_before"),
    ],
)
def test_impossible_dates_in_the_listing_are_400(api, query, name):
    _bad_request(api.get(f"/api/v1/kyc/sessions?{query}"), f"{name} must be an ISO 8601 date or date-time")


def test_listing_offsets_beyond_the_database_range_are_normalised(api):
    response = api.get("/api/v1/kyc/sessions?created_before=0052-07-29T19%3A36%3A31%2B23%3A00")
    assert response.status_code == 200 and response.json()["results"] == []


def test_nul_in_metadata_value_is_400(api):
    _bad_request(
        api.get("/api/v1/kyc/sessions?metadata_key=user_id&metadata_value=a%00b"),
        "metadata_value must not contain NUL characters",
    )


def test_deeply_nested_json_is_400(api):
    body = '{"metadata": ' + "[" * 3000 + "]" * 3000 + "}"
    response = api.post("/api/v1/kyc/sessions", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "BAD_REQUEST"


def test_accept_header_never_causes_406(api):
    import uuid

    for accept in ("image/jpeg", "text/html", "application/xml"):
        response = api.get(f"/api/v1/kyc/sessions/{uuid.uuid4()}/documents/front_document", HTTP_ACCEPT=accept)
        assert response.status_code == 404 and response.json()["error"] == "NOT_FOUND"
