"""HTTP client for the Innovatif eKYC gateway (create-transaction, get-status).

Errors fall in two families the callers act on differently:
``InnovatifUnavailable`` (worth retrying later: network, timeouts, 5xx, error 105,
answers we cannot read) and ``InnovatifRequestError`` (the provider refused our
request: retrying the same request will not help). Nothing here logs credentials,
request bodies or decrypted data.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from .credentials import Credentials, credentials_live, credentials_sandbox
from .crypto import EnvelopeError, open_envelope, request_time_now, seal

logger = logging.getLogger(__name__)

ERROR_DESCRIPTIONS = {
    "100": "Missing Parameter",
    "101": "Invalid API Key",
    "102": "Invalid Package Name",
    "103": "Invalid Ref ID",
    "104": "Invalid Security Token (signature)",
    "105": "Service not available, please try again later",
    "400": "Bad request. Encrypt Failed",
    "401": "Invalid Credential",
}
UNAVAILABLE_CODES = {"105"}
# Some answers carry an error_code field even on success.
NO_ERROR_CODES = {"", "0", "00", "000", "200", "None"}


class InnovatifError(Exception):
    def __init__(self, code: str, description: str | None = None):
        self.code = str(code)
        self.description = description or ERROR_DESCRIPTIONS.get(self.code, "Unknown provider error")
        super().__init__(f"Innovatif error {self.code}: {self.description}")


class InnovatifUnavailable(InnovatifError):
    """The provider could not be reached or could not serve us; try again later."""


class InnovatifRequestError(InnovatifError):
    """The provider refused the request (bad credentials, parameters, ref id, ...)."""


def error_for_code(code, description: str | None = None) -> InnovatifError:
    code = str(code).strip() if code is not None else "unknown"
    if code in UNAVAILABLE_CODES or (code.isdigit() and 500 <= int(code) <= 599):
        return InnovatifUnavailable(code, description)
    return InnovatifRequestError(code, description)


@dataclass(frozen=True)
class CreateTransactionResult:
    onboarding_id: str
    onboarding_url: str
    expired_at: str
    ref_id: str  # the provider's prefixed ref id, used by get-status and callbacks


class ProcessSession:
    """One keep-alive requests.Session per process (recreated after a fork so workers
    never share sockets with their parent). The environment's proxy and CA settings
    are read here, once, not on every call (`trust_env` would re-read them, and look
    for a .netrc, per request). `adapter` builds the transport mounted for http and
    https (pool size, retries); requests' default otherwise."""

    def __init__(self, adapter: Callable[[], HTTPAdapter] | None = None):
        self._adapter = adapter
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        self._pid: int | None = None

    def __call__(self) -> requests.Session:
        with self._lock:
            if self._session is None or self._pid != os.getpid():
                session = requests.Session()
                session.trust_env = False
                session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
                if self._adapter is not None:
                    for prefix in ("http://", "https://"):
                        session.mount(prefix, self._adapter())
                self._session, self._pid = session, os.getpid()
            return self._session


# The provider client's. Its calls are not retried: creating a transaction twice
# is not harmless.
shared_session = ProcessSession()


@functools.lru_cache(maxsize=16)
def _proxies_for(base_url: str) -> dict[str, str]:
    """The environment's proxies for the provider's host (NO_PROXY applied), per process."""
    return requests.utils.get_environ_proxies(base_url)


def _error_from_body(body: dict) -> InnovatifError | None:
    """The error an answer describes, or None when it is not an error shape."""
    code = body.get("error_code")
    if code in (None, "") and isinstance(body.get("data"), dict):
        code = body["data"].get("error_code")
    if str(code).strip() in NO_ERROR_CODES:
        code = None
    description = body.get("description")
    if not description and isinstance(body.get("data"), dict):
        description = body["data"].get("description") or body["data"].get("message")
    if not description and isinstance(body.get("message"), str) and body.get("message") != "Failed":
        description = body["message"]
    failed = body.get("success") is False or body.get("message") == "Failed" or code not in (None, "")
    if not failed:
        return None
    if code in (None, ""):
        code = _code_for_description(description)
    return error_for_code(code, str(description)[:255] if description else None)


def _code_for_description(description) -> str:
    if isinstance(description, str):
        wanted = description.strip().lower()
        for code, text in ERROR_DESCRIPTIONS.items():
            if text.lower() == wanted:
                return code
    return "unknown"


class InnovatifClient:
    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        connect_timeout: float,
        read_timeout: float,
        http: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = (connect_timeout, read_timeout)
        self.http = http or shared_session()

    def __repr__(self) -> str:
        return f"InnovatifClient(base_url={self.base_url!r}, credentials={self.credentials!r})"

    def create_transaction(
        self,
        *,
        ref_id: str,
        document_name: str,
        document_number: str,
        document_type: str,
        platform: str,
        response_url: str,
        backend_url: str,
        callback_mode: str = "2",
        response_mode: str = "1",
    ) -> CreateTransactionResult:
        request_time = request_time_now()
        payload = {
            "api_key": self.credentials.api_key,
            "package_name": self.credentials.package_name,
            "ref_id": ref_id,
            "document_name": document_name,
            "document_number": document_number,
            "document_type": document_type,
            "platform": platform,
            "signature": self.credentials.sign(ref_id=ref_id, request_time=request_time),
            "response_url": response_url,
            "backend_url": backend_url,
            "callback_mode": str(callback_mode),
            "response_mode": str(response_mode),
            "request_time": request_time,
        }
        body = self._post("create-transaction", payload, log_ref=ref_id)
        try:
            return CreateTransactionResult(
                onboarding_id=str(body["onboarding_id"]),
                onboarding_url=str(body["onboarding_url"]),
                expired_at=str(body.get("expired_at") or ""),
                ref_id=str(body.get("ref_id") or ""),
            )
        except KeyError as exc:
            raise InnovatifUnavailable("bad_answer", f"create-transaction answer lacks {exc.args[0]}") from None

    def get_status(self, *, ref_id: str, onboarding_id: str, platform: str, mode: str = "2") -> dict:
        request_time = request_time_now()
        payload = {
            "api_key": self.credentials.api_key,
            "package_name": self.credentials.package_name,
            "ref_id": ref_id,
            "onboarding_id": onboarding_id,
            "platform": platform,
            "signature": self.credentials.sign(ref_id=ref_id, request_time=request_time),
            "request_time": request_time,
            # The provider documents mode as an integer.
            "mode": int(mode) if str(mode).isdigit() else mode,
        }
        return self._post("get-status", payload, log_ref=ref_id)

    def _post(self, endpoint: str, payload: dict, *, log_ref: str) -> dict:
        url = f"{self.base_url}/{endpoint}"
        started = time.monotonic()
        try:
            body = self._exchange(url, payload)
        except InnovatifError as exc:
            logger.warning(
                "innovatif %s failed ref_id=%s code=%s duration_ms=%d",
                endpoint,
                log_ref,
                exc.code,
                (time.monotonic() - started) * 1000,
            )
            raise
        logger.info("innovatif %s ok ref_id=%s duration_ms=%d", endpoint, log_ref, (time.monotonic() - started) * 1000)
        return body

    def _exchange(self, url: str, payload: dict) -> dict:
        try:
            response = self.http.post(
                url,
                json=seal(payload, self.credentials),
                timeout=self.timeout,
                allow_redirects=False,
                proxies=_proxies_for(self.base_url),
            )
        except requests.Timeout:
            raise InnovatifUnavailable("timeout", "Provider did not answer in time") from None
        except requests.RequestException as exc:
            raise InnovatifUnavailable("connection", f"Provider unreachable ({type(exc).__name__})") from None

        status = response.status_code
        if status >= 500 or status == 429:
            raise InnovatifUnavailable(str(status), f"Provider answered HTTP {status}")
        try:
            body = response.json()
        except ValueError:
            if status >= 400:
                raise InnovatifRequestError(str(status), f"Provider answered HTTP {status}") from None
            raise InnovatifUnavailable("bad_answer", "Provider answer is not JSON") from None
        if not isinstance(body, dict):
            raise InnovatifUnavailable("bad_answer", "Provider answer is not a JSON object")

        data = body.get("data")
        if isinstance(data, str):
            try:
                data = open_envelope(body, self.credentials)
            except EnvelopeError:
                raise InnovatifUnavailable("bad_answer", "Provider answer could not be decrypted") from None
            error = _error_from_body(data)
            if error is None and body.get("success") is False:
                error = error_for_code("unknown", None)
            if error is not None:
                raise error
            return data

        error = _error_from_body(body)
        if error is not None:
            raise error
        if status >= 400:
            raise InnovatifRequestError(str(status), f"Provider answered HTTP {status}")
        if isinstance(data, dict):
            return data
        raise InnovatifUnavailable("bad_answer", "Provider answer has no data")


def client_for(*, is_test: bool) -> InnovatifClient:
    """Test sessions always go to the sandbox with its own credentials."""
    if is_test:
        base_url, credentials = settings.SANDBOX_BASE_URL, credentials_sandbox()
    else:
        base_url, credentials = settings.INNOVATIF_BASE_URL, credentials_live()
    return InnovatifClient(
        base_url,
        credentials,
        connect_timeout=settings.INNOVATIF_CONNECT_TIMEOUT,
        read_timeout=settings.INNOVATIF_READ_TIMEOUT,
    )
