"""Shapes of TrueStack's JSON answers (from docs/openapi.yaml). Answers are plain
dicts: new fields may appear at any time, so read with `.get()` where unsure."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict


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
    metadata: Dict[str, Any]


class SessionCreated(TypedDict):
    id: str
    onboarding_url: str
    expires_at: str
    status: str


class OcrResult(TypedDict):
    name: Optional[str]
    id_number: Optional[str]
    address: Optional[str]


class DocumentLinks(TypedDict):
    front_document: Optional[str]
    back_document: Optional[str]
    face_image: Optional[str]
    best_frame: Optional[str]


class SessionSummary(TypedDict):
    id: str
    status: str
    result: Optional[str]
    document_name: str
    document_number: str
    document_type: str
    metadata: Dict[str, Any]
    created_at: str
    updated_at: str
    expires_at: str


class SessionDetail(SessionSummary, total=False):
    # Only when status is "completed".
    ocr_result: OcrResult
    documents: DocumentLinks


class ExtractedDocument(TypedDict):
    full_name: Optional[str]
    id_number: Optional[str]
    id_number_back: Optional[str]
    address: Optional[str]
    gender: Optional[str]


class Verification(TypedDict):
    document_valid: Optional[bool]
    name_match: Optional[bool]
    id_match: Optional[bool]
    front_back_match: Optional[bool]
    landmark_valid: Optional[bool]
    face_match: Optional[bool]
    face_match_score: Optional[float]
    liveness_passed: Optional[bool]


class _SessionRefreshRequired(TypedDict):
    id: str
    ref_id: str
    status: str
    result: Optional[str]
    reject_message: Optional[str]
    refreshed: bool


class SessionRefresh(_SessionRefreshRequired, total=False):
    message: str
    error: str
    document: ExtractedDocument
    verification: Verification
    images: DocumentLinks
    _raw: Dict[str, Any]


class SessionList(TypedDict):
    next: Optional[str]
    previous: Optional[str]
    results: List[SessionSummary]


class Error(TypedDict):
    error: str
    message: str


class InsufficientCreditsError(Error):
    balance: float


class WebhookOcrData(TypedDict):
    name: Optional[str]
    ic_number: Optional[str]
    address: Optional[str]
    gender: Optional[str]
    nationality: Optional[str]
    date_of_birth: Optional[str]


class WebhookEventData(TypedDict):
    session_id: str
    ref_id: str
    status: str
    result: Optional[str]
    document_name: str
    document_number: str
    ocr_data: Optional[WebhookOcrData]
    face_match_score: Optional[float]
    liveness_score: Optional[float]
    metadata: Dict[str, Any]


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
