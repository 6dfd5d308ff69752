"""Hardened outbound HTTP for URLs that clients give us (webhook targets).

- Only http/https; no redirects (a 3xx is just an answer, never followed).
- Connect and read timeouts on every request and a wall-clock deadline on the
  whole attempt; no proxies from the environment.
- The host is resolved once, every resolved address must be public unless
  settings.WEBHOOK_ALLOW_PRIVATE_TARGETS is on, and the connection is made to the
  vetted address (pinned), so a DNS answer that changes between the check and
  the connect (DNS rebinding) cannot reach an internal address. The Host header,
  TLS SNI and certificate verification still use the hostname from the URL.
- At most `excerpt_bytes` of the response body is read, and only for the record.

Callers get an `OutboundResult`; this module never raises for network trouble and
never logs request or response bodies.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter

EXCERPT_BYTES = 1024
ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetRefused(Exception):
    """The URL may not be called. `permanent` is True when no future DNS answer
    can change that (a bad scheme, a literal private IP)."""

    def __init__(self, message: str, *, permanent: bool, dns_failure: bool = False):
        super().__init__(message)
        self.permanent = permanent
        # The name did not resolve: says nothing about where it would point.
        self.dns_failure = dns_failure


@dataclass(frozen=True)
class OutboundResult:
    status_code: int | None = None
    duration_ms: int = 0
    excerpt: str = ""
    # Short, body-free description of what went wrong ("" on any HTTP answer).
    error: str = ""
    # Set when the request was refused before any connection was made.
    refused: bool = False
    refused_permanently: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def address_is_public(address: str) -> bool:
    """True only for globally routable unicast addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address are judged by that address.
        if ip.ipv4_mapped is not None:
            return address_is_public(str(ip.ipv4_mapped))
        if ip in _IPV4_TRANSLATED or ip in _IPV4_COMPATIBLE:
            return address_is_public(str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not address_is_public(str(embedded)):
            return False
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def resolve_target(url: str) -> tuple[str, str, int, list[str]]:
    """(scheme, hostname, port, vetted addresses) for `url`, or TargetRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"invalid URL: {exc}", permanent=True) from None
    scheme = (parts.scheme or "").lower()
    if scheme not in ALLOWED_SCHEMES:
        raise TargetRefused("only http and https URLs are allowed", permanent=True)
    host = parts.hostname
    if not host:
        raise TargetRefused("URL has no host", permanent=True)
    port = port or DEFAULT_PORTS[scheme]

    is_literal = True
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        is_literal = False

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(
            f"DNS resolution failed: {exc.__class__.__name__}", permanent=False, dns_failure=True
        ) from None
    addresses: list[str] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if family in (socket.AF_INET, socket.AF_INET6) and address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetRefused("DNS returned no usable address", permanent=False, dns_failure=True)

    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        # Refuse if ANY answer is non-public: an attacker controlling DNS could
        # otherwise mix a private address into a public answer set.
        for address in addresses:
            if not address_is_public(address):
                raise TargetRefused("target resolves to a non-public address", permanent=is_literal)
    return scheme, host, port, addresses


# Create-time vetting of a webhook_url: resolutions are cached briefly so a burst of
# creates for the same receiver costs one DNS lookup.
TARGET_CHECK_TTL_SECONDS = 60.0
_TARGET_CHECK_MAX_ENTRIES = 1024
_target_checks: dict[tuple[str, int], tuple[float, str | None]] = {}
_target_checks_lock = threading.Lock()


def target_refusal(url: str) -> str | None:
    """Why `url` may never be called (a non-public address, a bad scheme), or None.
    The same vetting as at delivery (`resolve_target`), for use when a URL is
    accepted. A DNS failure is not a refusal here: it may be temporary, and delivery
    retries it. Always None when WEBHOOK_ALLOW_PRIVATE_TARGETS is on."""
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return None
    try:
        parts = urlsplit(url)
        key = ((parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get((parts.scheme or "").lower(), 0))
    except ValueError:
        return "invalid URL"
    now = time.monotonic()
    cached = _target_checks.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        resolve_target(url)
        reason = None
    except TargetRefused as exc:
        if exc.dns_failure:
            return None  # perhaps temporary: not cached, not refused
        reason = str(exc)
    with _target_checks_lock:
        if len(_target_checks) >= _TARGET_CHECK_MAX_ENTRIES:
            _target_checks.clear()
        _target_checks[key] = (now + TARGET_CHECK_TTL_SECONDS, reason)
    return reason


class _PinnedHostAdapter(HTTPAdapter):
    """Connects to the URL's (already vetted) IP literal while TLS uses the
    original hostname for SNI and certificate verification. Remembers the sockets
    it opens, so a watchdog can cut them at the attempt's deadline."""

    def __init__(self, hostname: str):
        self._hostname = hostname
        self.sockets: list[socket.socket] = []
        super().__init__(max_retries=0, pool_connections=1, pool_maxsize=1)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        sockets = self.sockets

        class _Http(urllib3.connection.HTTPConnection):
            def connect(self):
                super().connect()
                sockets.append(self.sock)

        class _Https(urllib3.connection.HTTPSConnection):
            def connect(self):
                super().connect()
                sockets.append(self.sock)

        class _HttpPool(urllib3.HTTPConnectionPool):
            ConnectionCls = _Http

        class _HttpsPool(urllib3.HTTPSConnectionPool):
            ConnectionCls = _Https

        self.poolmanager.pool_classes_by_scheme = {"http": _HttpPool, "https": _HttpsPool}

    def cut(self) -> None:
        """Abort whatever is in flight (called from the watchdog thread)."""
        for sock in list(self.sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params.get("scheme") == "https":
            pool_kwargs["server_hostname"] = self._hostname
            pool_kwargs["assert_hostname"] = self._hostname
        return host_params, pool_kwargs


def _pinned_url(parts, address: str, port: int, scheme: str) -> str:
    host = f"[{address}]" if ":" in address else address
    netloc = host if port == DEFAULT_PORTS[scheme] and parts.port is None else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _host_header(parts, hostname: str) -> str:
    host = f"[{hostname}]" if ":" in hostname else hostname
    return f"{host}:{parts.port}" if parts.port else host


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    deadline: float | None = None,
    excerpt_bytes: int = EXCERPT_BYTES,
) -> OutboundResult:
    """POST `body` to `url` once. Never raises for network or policy failures.

    `deadline` bounds the whole attempt in wall-clock seconds (connect, send, the
    status line and headers, the excerpt): the timeouts apply to each socket
    operation, so without it a receiver dripping one byte at a time could hold
    the attempt for ever. At the deadline a watchdog shuts the socket down."""
    connect_timeout = settings.WEBHOOK_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
    read_timeout = settings.WEBHOOK_READ_TIMEOUT if read_timeout is None else read_timeout
    deadline = settings.WEBHOOK_ATTEMPT_DEADLINE_SECONDS if deadline is None else deadline
    started = time.monotonic()
    ends_at = started + deadline

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        scheme, hostname, port, addresses = resolve_target(url)
    except TargetRefused as exc:
        return OutboundResult(
            duration_ms=elapsed_ms(), error=f"refused: {exc}", refused=True, refused_permanently=exc.permanent
        )

    parts = urlsplit(url)
    request_headers = dict(headers)
    request_headers["Host"] = _host_header(parts, hostname)
    auth = None
    if parts.username is not None:
        auth = (unquote(parts.username), unquote(parts.password or ""))

    session = requests.Session()
    session.trust_env = False  # no proxies, netrc or CA overrides from the environment
    adapter = _PinnedHostAdapter(hostname)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    remaining = max(0.001, ends_at - time.monotonic())
    expired = threading.Event()

    def cut() -> None:
        expired.set()
        adapter.cut()

    watchdog = threading.Timer(remaining, cut)
    watchdog.daemon = True
    watchdog.start()
    deadline_error = f"deadline exceeded after {deadline:g}s"
    try:
        # The first vetted address; the choice was made before connecting, so a
        # later DNS change cannot redirect this request.
        target = _pinned_url(parts, addresses[0], port, scheme)
        with session.post(
            target,
            data=body,
            headers=request_headers,
            auth=auth,
            timeout=(min(connect_timeout, remaining), min(read_timeout, remaining)),
            allow_redirects=False,
            stream=True,
        ) as response:
            raw = b""
            try:
                while len(raw) < excerpt_bytes and time.monotonic() < ends_at and not expired.is_set():
                    chunk = response.raw.read(min(256, excerpt_bytes - len(raw)), decode_content=True)
                    if not chunk:
                        break
                    raw += chunk
            except Exception:  # noqa: BLE001, S110 - the status code is what counts; the excerpt is best effort
                pass
            excerpt = raw[:excerpt_bytes].decode("utf-8", errors="replace")
            return OutboundResult(status_code=response.status_code, duration_ms=elapsed_ms(), excerpt=excerpt)
    except requests.exceptions.ConnectTimeout:
        return OutboundResult(duration_ms=elapsed_ms(), error=f"connect timeout after {connect_timeout:g}s")
    except requests.exceptions.ReadTimeout:
        if expired.is_set() or time.monotonic() >= ends_at:
            return OutboundResult(duration_ms=elapsed_ms(), error=deadline_error)
        return OutboundResult(duration_ms=elapsed_ms(), error=f"read timeout after {read_timeout:g}s")
    except requests.exceptions.RequestException as exc:
        if expired.is_set():
            return OutboundResult(duration_ms=elapsed_ms(), error=deadline_error)
        if isinstance(exc, requests.exceptions.SSLError):
            return OutboundResult(duration_ms=elapsed_ms(), error="TLS error")
        if isinstance(exc, requests.exceptions.ConnectionError):
            return OutboundResult(duration_ms=elapsed_ms(), error=f"connection error: {_short_reason(exc)}")
        return OutboundResult(duration_ms=elapsed_ms(), error=f"request error: {exc.__class__.__name__}")
    finally:
        watchdog.cancel()
        session.close()


def _short_reason(exc: Exception) -> str:
    text = str(exc)
    for marker in (
        "Connection refused",
        "Connection reset",
        "Name or service not known",
        "Network is unreachable",
        "Remote end closed connection",
        "timed out",
    ):
        if marker in text:
            return marker
    return exc.__class__.__name__
