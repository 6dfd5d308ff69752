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


class SessionSummary(TypedDict):
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


class SessionDetail(SessionSummary, total=False):
    # Only when status is "completed".
    ocr_result: OcrResult
    documents: DocumentLinks


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


class _SessionRefreshRequired(TypedDict):
    id: str
    ref_id: str
    status: str
    result: str | None
    reject_message: str | None
    refreshed: bool


class SessionRefresh(_SessionRefreshRequired, total=False):
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


class InsufficientCreditsError(Error):
    balance: float


class WebhookOcrData(TypedDict):
    name: str | None
    ic_number: str | None
    address: str | None
    gender: str | None
    nationality: str | None
    date_of_birth: str | None


class WebhookEventData(TypedDict):
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


class WebhookEvent(TypedDict):
    id: str
    event: str
    timestamp: str
    data: WebhookEventData


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
