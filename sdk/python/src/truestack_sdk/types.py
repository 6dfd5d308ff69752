"""Shapes of TrueStack's JSON answers (from docs/openapi.yaml). Answers are plain
dicts: new fields may appear at any time, so read with `.get()` where unsure."""

from __future__ import annotations

from typing import Any, TypedDict


class _SessionCreateRequired(TypedDict):
    document_name: str
    document_number: str
    webhook_url: str


class SessionCreateRequest(_SessionCreateRequired, total=False):
    document_type: str
    platform: str
    redirect_url: str
    success_url: str
    fail_url: str
    metadata: dict[str, Any]


class SessionCreated(TypedDict):
    id: str
    onboarding_url: str
    expires_at: str
    status: str


class OcrResult(TypedDict):
    name: str | None
    id_number: str | None
    address: str | None


class DocumentLinks(TypedDict):
    front_document: str | None
    back_document: str | None
    face_image: str | None
    best_frame: str | None


class ExtractedDocument(TypedDict):
    full_name: str | None
    id_number: str | None
    id_number_back: str | None
    address: str | None
    gender: str | None


class Verification(TypedDict):
    document_valid: bool | None
    name_match: bool | None
    id_match: bool | None
    front_back_match: bool | None
    landmark_valid: bool | None
    face_match: bool | None
    face_match_score: float | None
    liveness_passed: bool | None


class SessionBilling(TypedDict):
    credits: int
    tier: str
    billed_at: str


class _SessionSummaryRequired(TypedDict):
    id: str
    status: str
    result: str | None
    document_name: str
    document_number: str
    document_type: str
    metadata: dict[str, Any]
    created_at: str
    updated_at: str
    expires_at: str


class SessionSummary(_SessionSummaryRequired, total=False):
    # Only once a redaction was asked for.
    redacted: bool
    redaction: str


class _SessionDetailRequired(_SessionSummaryRequired):
    # None for test-mode sessions and sessions not (yet) billed.
    billing: SessionBilling | None


class SessionDetail(_SessionDetailRequired, total=False):
    # Only once a redaction was asked for.
    redacted: bool
    redaction: str
    # Only when status is "completed".
    ocr_result: OcrResult
    documents: DocumentLinks
    reject_message: str | None
    verification: Verification


class _SessionRefreshRequired(TypedDict):
    id: str
    ref_id: str
    status: str
    result: str | None
    reject_message: str | None
    refreshed: bool


class SessionRefresh(_SessionRefreshRequired, total=False):
    # Absent when `error` is present; None for test-mode and not (yet) billed sessions.
    billing: SessionBilling | None
    redacted: bool
    redaction: str
    message: str
    error: str
    document: ExtractedDocument
    verification: Verification
    images: DocumentLinks
    _raw: dict[str, Any]


class SessionList(TypedDict):
    next: str | None
    previous: str | None
    results: list[SessionSummary]


class Error(TypedDict):
    error: str
    message: str


class _InsufficientCreditsRequired(Error):
    balance: float


class InsufficientCreditsError(_InsufficientCreditsRequired, total=False):
    available: int
    required: int


class WebhookOcrData(TypedDict):
    name: str | None
    ic_number: str | None
    address: str | None
    gender: str | None
    nationality: str | None
    date_of_birth: str | None


class _WebhookEventDataRequired(TypedDict):
    session_id: str
    ref_id: str
    status: str
    result: str | None
    document_name: str
    document_number: str
    ocr_data: WebhookOcrData | None
    face_match_score: float | None
    liveness_score: float | None
    metadata: dict[str, Any]


class WebhookEventData(_WebhookEventDataRequired, total=False):
    # True in kyc.session.redacted and in bodies stored after a redaction.
    redacted: bool
    # Absent from events recorded before these fields were added.
    updated_at: str
    billing: SessionBilling | None


class _WebhookEventRequired(TypedDict):
    id: str
    event: str
    timestamp: str
    data: WebhookEventData


class WebhookEvent(_WebhookEventRequired, total=False):
    # Per-session, increasing; absent from events recorded before it was added.
    sequence: int


class WebhookRedactedEvent(WebhookEvent):
    """`kyc.session.redacted`: personal fields read "[redacted]", data.redacted is true."""


# Account and events: their schemas are not in the published OpenAPI yet, so these
# name only what every answer is expected to carry; the dicts hold everything sent.
class Account(TypedDict, total=False):
    client_code: str
    name: str
    balance: float


class Statement(TypedDict, total=False):
    month: str


class Invoice(TypedDict, total=False):
    id: str


class Event(TypedDict, total=False):
    id: str
    type: str
    session_id: str
    created_at: str


class RedeliveryAccepted(TypedDict, total=False):
    count: int


class TestDelivery(TypedDict, total=False):
    url: str
