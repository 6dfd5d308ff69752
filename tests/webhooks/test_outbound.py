"""The hardened outbound client: address policy, DNS pinning, schemes."""

import socket

import pytest

from kyc.services import session_event_record as event_record
from truestack import outbound
from webhooks.models import Attempt, Delivery, Event
from webhooks.services import delivery_attempt


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.10",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",
        "2002:a00:1::1",
        "::127.0.0.1",
        "2001:db8::1",
    ],
)
def test_non_public_addresses(address):
    assert outbound.address_is_public(address) is False


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "203.119.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address):
    assert outbound.address_is_public(address) is True


def fake_dns(monkeypatch, answers: dict, calls: list | None = None):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if calls is not None:
            calls.append(host)
        if host in answers:
            result = []
            for address in answers[host]:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
                result.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
            return result
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(outbound.socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def private_blocked(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    return settings


def test_loopback_literal_is_refused_before_connecting(private_blocked, receiver):
    result = outbound.post(receiver.url, body=b"{}", headers={})
    assert result.refused and result.refused_permanently
    assert result.status_code is None
    assert "non-public" in result.error
    assert receiver.requests == []


def test_hostname_resolving_to_loopback_is_refused(private_blocked, receiver):
    result = outbound.post(f"http://localhost:{receiver.port}/hooks", body=b"{}", headers={})
    assert result.refused
    assert not result.refused_permanently  # a hostname may resolve differently later
    assert receiver.requests == []


def test_one_private_answer_among_public_ones_is_refused(private_blocked, monkeypatch):
    fake_dns(monkeypatch, {"mixed.example.test": ["93.184.216.34", "10.1.2.3"]})
    with pytest.raises(outbound.TargetRefused):
        outbound.resolve_target("https://mixed.example.test/hook")


def test_public_answer_is_allowed(private_blocked, monkeypatch):
    fake_dns(monkeypatch, {"public.example.test": ["93.184.216.34"]})
    assert outbound.resolve_target("https://public.example.test/hook") == (
        "https",
        "public.example.test",
        443,
        ["93.184.216.34"],
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "gopher://example.com",
        "http:///nohost",
        "http://example.com:99999/",
    ],
)
def test_bad_urls_are_refused_permanently(url):
    result = outbound.post(url, body=b"{}", headers={})
    assert result.refused and result.refused_permanently


def test_private_targets_allowed_when_the_setting_is_on(settings, receiver):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    assert outbound.post(receiver.url, body=b"{}", headers={}).status_code == 200


def test_connection_is_pinned_to_the_vetted_address(settings, monkeypatch, receiver):
    """DNS is asked once; a later answer (rebinding) cannot redirect the request,
    and the Host header keeps the hostname."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    real = socket.getaddrinfo
    calls = []

    def rebinding(host, port, *args, **kwargs):
        if host != "hooks.example.test":
            return real(host, port, *args, **kwargs)
        calls.append(host)
        # First answer: the receiver. Any later answer: somewhere else (TEST-NET).
        address = "127.0.0.1" if len(calls) == 1 else "192.0.2.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", rebinding)

    result = outbound.post(
        f"http://hooks.example.test:{receiver.port}/hooks?x=1", body=b'{"a":1}', headers={"X-A": "1"}, connect_timeout=1
    )
    assert result.status_code == 200
    assert len(calls) == 1
    [request] = receiver.requests
    assert request.headers["Host"] == f"hooks.example.test:{receiver.port}"
    assert request.path == "/hooks?x=1"
    assert request.body == b'{"a":1}'
    assert request.headers["X-A"] == "1"


def test_no_proxy_from_the_environment(settings, monkeypatch, receiver):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    monkeypatch.setenv("HTTP_PROXY", "http://192.0.2.1:3128")
    monkeypatch.setenv("http_proxy", "http://192.0.2.1:3128")
    assert outbound.post(receiver.url, body=b"{}", headers={}).status_code == 200


@pytest.mark.django_db
def test_delivery_to_a_private_address_is_refused_and_recorded(private_blocked, make_session, receiver):
    event = event_record(session=make_session(receiver.url), kind=Event.Kind.SESSION_COMPLETED)
    delivery = Delivery.objects.get(event=event)
    # A literal private IP can never become public: no point retrying.
    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.FAILED
    attempt = Attempt.objects.get(delivery=delivery)
    assert attempt.status_code is None
    assert "non-public" in attempt.error
    assert receiver.requests == []


@pytest.mark.django_db
def test_delivery_to_a_hostname_on_loopback_is_refused_and_retried(private_blocked, make_session, receiver):
    event = event_record(
        session=make_session(f"http://localhost:{receiver.port}/hooks"), kind=Event.Kind.SESSION_COMPLETED
    )
    delivery = Delivery.objects.get(event=event)
    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.RETRYING
    assert "non-public" in Attempt.objects.get(delivery=delivery).error
    assert receiver.requests == []
