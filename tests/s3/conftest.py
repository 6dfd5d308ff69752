"""An S3-compatible server on 127.0.0.1 (moto in server mode, a real HTTP
endpoint) and Django's default storage pointed at it through django-storages."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

PORTS = range(47251, 47260)
BUCKET = "truestack-test-kyc"
REGION = "ap-southeast-5"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

_EXPIRED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>"
)


class PresignedExpiry:
    """AWS refuses a presigned URL once X-Amz-Date + X-Amz-Expires has passed
    (403 "Request has expired"); moto 5 does not check it, so the test server
    adds that one rule in front of moto."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "X-Amz-Date" in query and "X-Amz-Expires" in query:
            signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            if datetime.now(UTC) > signed_at + timedelta(seconds=int(query["X-Amz-Expires"][0])):
                start_response("403 Forbidden", [("Content-Type", "application/xml")])
                return [_EXPIRED]
        return self.app(environ, start_response)


def _free_port() -> int | None:
    for port in PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    return None


@pytest.fixture(scope="session")
def s3_server():
    try:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server
    except ImportError as exc:  # pragma: no cover - moto is in requirements.txt
        pytest.skip(f"no S3 test server: moto[s3] and flask are not installed (requirements.txt) ({exc})")

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = PresignedExpiry(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    port = _free_port()
    if port is None:
        pytest.skip(f"no S3 test server: no free port in {PORTS.start}-{PORTS.stop - 1}")
    server = Server(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        server.start()
    except Exception as exc:
        pytest.skip(f"no S3 test server: moto could not start ({exc})")
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield endpoint
    server.stop()


@pytest.fixture
def s3(s3_server, settings):
    """A fresh private bucket (public access blocked) and the S3 storage backend."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_server, region_name=REGION, **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = s3_server
    settings.AWS_S3_REGION_NAME = REGION
    settings.AWS_ACCESS_KEY_ID = CREDENTIALS["aws_access_key_id"]
    settings.AWS_SECRET_ACCESS_KEY = CREDENTIALS["aws_secret_access_key"]
    settings.AWS_DEFAULT_ACL = None
    settings.AWS_QUERYSTRING_AUTH = True
    settings.AWS_S3_SIGNATURE_VERSION = "s3v4"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage"},
    }
    client.endpoint = s3_server
    client.bucket = BUCKET
    yield client
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    for item in listed:
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)
