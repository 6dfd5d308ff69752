"""HTTPS to a pinned address: SNI and certificate checks still use the hostname."""

import datetime
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from truestack import outbound

from .conftest import bind_server


def _self_signed(tmp_path, hostname):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{hostname}.pem", tmp_path / f"{hostname}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def https_receiver(tmp_path):
    cert_path, key_path = _self_signed(tmp_path, "hooks.example.test")
    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen["host"] = self.headers["Host"]
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = bind_server(Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)

    def remember_sni(_sock, server_name, _context):
        seen["sni"] = server_name

    context.sni_callback = remember_sni
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server.server_address[1], cert_path, seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def trust(monkeypatch):
    def _trust(ca_path):
        class TrustingSession(requests.Session):
            def __init__(self):
                super().__init__()
                self.verify = str(ca_path)

        monkeypatch.setattr(outbound.requests, "Session", TrustingSession)

    return _trust


def _dns(monkeypatch, mapping):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in mapping:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (mapping[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(outbound.socket, "getaddrinfo", getaddrinfo)


def test_https_to_the_pinned_ip_verifies_the_hostname(settings, monkeypatch, https_receiver, trust):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    port, ca_path, seen = https_receiver
    trust(ca_path)
    _dns(monkeypatch, {"hooks.example.test": "127.0.0.1"})
    result = outbound.post(f"https://hooks.example.test:{port}/kyc", body=b"{}", headers={})
    assert result.status_code == 204, result.error
    assert seen["host"] == f"hooks.example.test:{port}"
    assert seen["sni"] == "hooks.example.test"


def test_certificate_for_another_name_is_refused(settings, monkeypatch, https_receiver, trust):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    port, ca_path, seen = https_receiver
    trust(ca_path)
    _dns(monkeypatch, {"other.example.test": "127.0.0.1"})
    result = outbound.post(f"https://other.example.test:{port}/kyc", body=b"{}", headers={})
    assert result.status_code is None
    assert result.error == "TLS error"
    assert "host" not in seen
