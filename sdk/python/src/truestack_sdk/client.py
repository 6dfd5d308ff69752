"""The HTTP client: Bearer auth, JSON, typed errors, safe retries, cursor paging."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any, Union, cast
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests

from ._version import __version__
from .errors import NetworkError, TrueStackError, error_for
from .types import (
    Account,
    Event,
    Invoice,
    RedeliveryAccepted,
    SessionCreated,
    SessionDetail,
    SessionRefresh,
    SessionSummary,
    Statement,
    TestDelivery,
)

DEFAULT_BASE_URL = "https://api.truestack.my"
DOCUMENT_KINDS = ("front_document", "back_document", "face_image", "best_frame")
# Answers worth another try of an idempotent request.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

DateLike = Union[str, date, datetime]


def _param(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _param(value) for name, value in params.items() if value is not None}


class TrueStack:
    """A TrueStack API client.

    >>> ts = TrueStack("ts_test_...", base_url="http://localhost:3001")
    >>> created = ts.sessions.create(document_name="Ahmad bin Abdullah",
    ...     document_number="901234-56-7890", webhook_url="https://yourapp.example/hooks/kyc")

    Retries (GET, and creates, which always carry an Idempotency-Key): on network
    errors, 429 (waiting Retry-After), 409 IDEMPOTENCY_REQUEST_IN_PROGRESS and
    500/502/503/504, at most `max_retries` times with exponential backoff from
    `backoff_base` up to `backoff_max` seconds (with jitter). A Retry-After longer
    than `max_retry_after` is not waited for: the error is raised instead.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        user_agent: str | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.http = session or requests.Session()
        self.user_agent = user_agent or f"truestack-sdk-python/{__version__}"
        self.sessions = Sessions(self)
        self.documents = Documents(self)
        self.account = AccountApi(self)
        self.events = Events(self)

    def close(self) -> None:
        """Close pooled connections (the client can still be used afterwards)."""
        self.http.close()

    def __enter__(self) -> TrueStack:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": self.user_agent,
        }
        headers.update(extra or {})
        return headers

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * (2**attempt))
        return delay * (0.5 + random.random() / 2)

    def _retry_delay(self, response: requests.Response, attempt: int) -> float | None:
        """Seconds to wait before another try, or None when this answer is final."""
        if response.status_code == 409:
            try:
                code = response.json().get("error")
            except ValueError:
                code = None
            return self._backoff(attempt) if code == "IDEMPOTENCY_REQUEST_IN_PROGRESS" else None
        if response.status_code not in RETRY_STATUSES:
            return None
        retry_after = response.headers.get("Retry-After")
        if retry_after is not None:
            try:
                seconds = max(0.0, float(retry_after))
            except ValueError:
                return self._backoff(attempt)
            return seconds if seconds <= self.max_retry_after else None
        return self._backoff(attempt)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = False,
        allow_redirects: bool = True,
    ) -> requests.Response:
        """One API call; `path` is relative to base_url (or a full URL). Raises the
        typed TrueStackError for any 4xx/5xx. `retry` only for idempotent calls."""
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"
        extra = dict(headers or {})
        if json is not None:
            extra["Content-Type"] = "application/json"
        attempt = 0
        while True:
            try:
                response = self.http.request(
                    method,
                    url,
                    params=_clean(params or {}),
                    json=json,
                    headers=self._headers(extra),
                    timeout=self.timeout,
                    allow_redirects=allow_redirects,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if retry and attempt < self.max_retries:
                    self.sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                raise NetworkError(f"{method} {url} failed: {type(exc).__name__}", code="NETWORK_ERROR") from exc
            if response.status_code < 400:
                return response
            delay = self._retry_delay(response, attempt) if retry and attempt < self.max_retries else None
            if delay is None:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                finally:
                    response.close()  # back to the pool now, not when the error is collected
                raise error_for(response.status_code, body, response.headers)
            response.close()
            self.sleep(delay)
            attempt += 1

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else {}

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paginated listing, following `next` until it is null.
        Only the query of `next` is used, so paging keeps to this client's base URL."""
        query: dict[str, Any] = _clean(params or {})
        while True:
            page = self._json("GET", path, params=query, retry=True)
            if isinstance(page, list):  # an unpaginated listing
                yield from page
                return
            yield from page.get("results", [])
            next_url = page.get("next")
            if not next_url:
                return
            query = dict(parse_qsl(urlsplit(next_url).query, keep_blank_values=True))


class Sessions:
    def __init__(self, client: TrueStack) -> None:
        self._client = client

    def create(
        self,
        *,
        document_name: str,
        document_number: str,
        webhook_url: str,
        document_type: str | None = None,
        platform: str | None = None,
        redirect_url: str | None = None,
        success_url: str | None = None,
        fail_url: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        **extra: Any,
    ) -> SessionCreated:
        """POST /api/v1/kyc/sessions. An Idempotency-Key (a new UUID unless you give
        one) goes with the request and every retry of it, so a retry never creates a
        second session. Pass your own key to make retries across process restarts safe."""
        body: dict[str, Any] = {
            "document_name": document_name,
            "document_number": document_number,
            "webhook_url": webhook_url,
            "document_type": document_type,
            "platform": platform,
            "redirect_url": redirect_url,
            "success_url": success_url,
            "fail_url": fail_url,
            "metadata": dict(metadata) if metadata is not None else None,
            **extra,
        }
        body = {name: value for name, value in body.items() if value is not None}
        key = idempotency_key or str(uuid.uuid4())
        return cast(
            SessionCreated,
            self._client._json("POST", "/api/v1/kyc/sessions", json=body, headers={"Idempotency-Key": key}, retry=True),
        )

    def get(self, session_id: str) -> SessionDetail:
        """GET /api/v1/kyc/sessions/{id}: what TrueStack knows (no provider call)."""
        return cast(SessionDetail, self._client._json("GET", f"/api/v1/kyc/sessions/{session_id}", retry=True))

    def refresh(self, session_id: str) -> SessionRefresh:
        """POST /api/v1/kyc/sessions/{id}: ask the provider for the latest status.
        Not retried automatically (it calls the provider); call again after 10-30 s."""
        return cast(SessionRefresh, self._client._json("POST", f"/api/v1/kyc/sessions/{session_id}"))

    def list(
        self,
        *,
        status: str | None = None,
        result: str | None = None,
        created_after: DateLike | None = None,
        created_before: DateLike | None = None,
        metadata_key: str | None = None,
        metadata_value: str | None = None,
        limit: int | None = None,
    ) -> Iterator[SessionSummary]:
        """Every matching session, newest first, across all pages (`limit` is the page size)."""
        params = {
            "status": status,
            "result": result,
            "created_after": created_after,
            "created_before": created_before,
            "metadata_key": metadata_key,
            "metadata_value": metadata_value,
            "limit": limit,
        }
        return cast(Iterator[SessionSummary], self._client.paginate("/api/v1/kyc/sessions", params))


class Documents:
    def __init__(self, client: TrueStack) -> None:
        self._client = client

    def download(self, session_id: str, kind: str) -> bytes:
        """The JPEG bytes of one image (`front_document`, `back_document`, `face_image`,
        `best_frame`). TrueStack answers the image itself or a 302 to a presigned URL;
        the redirect is followed without the API key (the URL carries its own signature)."""
        if kind not in DOCUMENT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(DOCUMENT_KINDS)}")
        response = self._client.request(
            "GET", f"/api/v1/kyc/sessions/{session_id}/documents/{kind}", retry=True, allow_redirects=False
        )
        hops = 0
        while response.is_redirect and hops < 5:
            location = urljoin(response.url, response.headers["Location"])
            try:
                response = self._client.http.get(location, timeout=self._client.timeout, allow_redirects=False)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise NetworkError(f"image download failed: {type(exc).__name__}", code="NETWORK_ERROR") from exc
            hops += 1
        if response.status_code >= 400:
            raise TrueStackError(
                f"image download failed with HTTP {response.status_code}",
                status=response.status_code,
                code=f"HTTP_{response.status_code}",
            )
        return response.content

    def download_all(self, session: Mapping[str, Any]) -> dict[str, bytes]:
        """Every image a completed session has (from a `sessions.get()` answer)."""
        links = session.get("documents") or {}
        return {kind: self.download(str(session["id"]), kind) for kind in DOCUMENT_KINDS if links.get(kind)}


class AccountApi:
    def __init__(self, client: TrueStack) -> None:
        self._client = client

    def get(self) -> Account:
        """GET /api/v1/account: the client's account and balance."""
        return cast(Account, self._client._json("GET", "/api/v1/account", retry=True))

    def statements(self) -> Iterator[Statement]:
        """Every monthly statement (GET /api/v1/account/statements, all pages)."""
        return cast(Iterator[Statement], self._client.paginate("/api/v1/account/statements"))

    def statement(self, month: str, pdf: bool = False) -> Statement | bytes:
        """One month (`YYYY-MM`): the JSON statement, or the PDF's bytes with pdf=True."""
        path = f"/api/v1/account/statements/{month}"
        if pdf:
            response = self._client.request(
                "GET", path, params={"format": "pdf"}, headers={"Accept": "application/pdf"}, retry=True
            )
            return response.content
        return cast(Statement, self._client._json("GET", path, retry=True))

    def invoices(self) -> Iterator[Invoice]:
        """Every invoice (GET /api/v1/account/invoices, all pages)."""
        return cast(Iterator[Invoice], self._client.paginate("/api/v1/account/invoices"))


class Events:
    def __init__(self, client: TrueStack) -> None:
        self._client = client

    def list(
        self,
        *,
        type: str | None = None,
        session_id: str | None = None,
        created_after: DateLike | None = None,
        created_before: DateLike | None = None,
    ) -> Iterator[Event]:
        """Every matching webhook event (GET /api/v1/events, all pages)."""
        params = {
            "type": type,
            "session_id": session_id,
            "created_after": created_after,
            "created_before": created_before,
        }
        return cast(Iterator[Event], self._client.paginate("/api/v1/events", params))

    def get(self, event_id: str) -> Event:
        return cast(Event, self._client._json("GET", f"/api/v1/events/{event_id}", retry=True))

    def redeliver(self, event_id: str) -> dict[str, Any]:
        """POST /api/v1/events/{id}/redeliver: queue the event again (202)."""
        return cast(dict[str, Any], self._client._json("POST", f"/api/v1/events/{event_id}/redeliver"))

    def redeliver_range(
        self, created_after: DateLike, created_before: DateLike, status: str = "failed"
    ) -> RedeliveryAccepted:
        """POST /api/v1/events/redeliver: queue every event in the range whose delivery
        has `status` (202, with the `count` queued)."""
        body = {
            "created_after": _param(created_after),
            "created_before": _param(created_before),
            "status": status,
        }
        return cast(RedeliveryAccepted, self._client._json("POST", "/api/v1/events/redeliver", json=body))

    def send_test(self, url: str) -> TestDelivery:
        """POST /api/v1/events/test: send a signed test event to `url`."""
        return cast(TestDelivery, self._client._json("POST", "/api/v1/events/test", json={"url": url}))


__all__ = ["TrueStack", "DEFAULT_BASE_URL", "DOCUMENT_KINDS"]
