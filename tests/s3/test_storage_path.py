"""The production storage path end to end against a real S3 API over HTTP:
private objects, presigned redirects that expire, fresh URLs on refresh,
redaction deleting the objects, anonymous reads refused."""

import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.core.files.storage import default_storage

from kyc import tasks
from kyc.documents import uses_presigned_urls
from kyc.models import KycSession
from tests.kyc.helpers import create_session, sandbox_complete

pytestmark = [pytest.mark.s3, pytest.mark.django_db(transaction=True)]

PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


@pytest.fixture
def completed(s3, api, funded, provider, valid_body, settings):
    assert uses_presigned_urls()
    session = KycSession.objects.get(pk=create_session(api, valid_body)["id"])
    sandbox_complete(session, outcome="approved")  # the callback carries the images
    session.refresh_from_db()
    assert session.status == "completed"
    return session


def keys_of(s3, session):
    listed = s3.list_objects_v2(Bucket=s3.bucket, Prefix=f"kyc/{session.client_id}/{session.id}/")
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_callback_images_are_private_objects_in_the_bucket(s3, completed):
    keys = keys_of(s3, completed)
    assert keys == sorted(f"kyc/{completed.client_id}/{completed.id}/{kind}.jpg" for kind in KycSession.DOCUMENT_KINDS)
    for key in keys:
        grants = s3.get_object_acl(Bucket=s3.bucket, Key=key)["Grants"]
        assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]  # the owner only
        assert not any(grant["Grantee"].get("URI") in PUBLIC_GRANTEES for grant in grants)
        assert requests.get(f"{s3.endpoint}/{s3.bucket}/{key}", timeout=10).status_code == 403  # anonymous
    block = s3.get_public_access_block(Bucket=s3.bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())


def test_document_redirects_to_a_presigned_url_that_expires(s3, completed, api, settings):
    settings.DOCUMENT_URL_TTL_SECONDS = 4
    stored = s3.get_object(Bucket=s3.bucket, Key=completed.front_document)["Body"].read()
    response = api.get(f"/api/v1/kyc/sessions/{completed.id}/documents/front_document")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{s3.endpoint}/{s3.bucket}/kyc/")
    query = parse_qs(urlparse(location).query)
    assert query["X-Amz-Expires"] == ["4"] and query["X-Amz-Signature"][0]
    fetched = requests.get(location, timeout=10)
    assert fetched.status_code == 200 and fetched.content == stored
    time.sleep(5)  # past the URL's lifetime
    expired = requests.get(location, timeout=10)
    assert expired.status_code == 403 and b"Request has expired" in expired.content
    unsigned = requests.get(location.split("?", 1)[0], timeout=10)
    assert unsigned.status_code == 403


def test_refresh_gives_fresh_presigned_urls(s3, completed, api):
    first = api.post(f"/api/v1/kyc/sessions/{completed.id}").json()["images"]
    time.sleep(1.1)  # a later signing second
    second = api.post(f"/api/v1/kyc/sessions/{completed.id}").json()["images"]
    for kind in KycSession.DOCUMENT_KINDS:
        assert first[kind] != second[kind]
        dates = [parse_qs(urlparse(url).query)["X-Amz-Date"][0] for url in (first[kind], second[kind])]
        assert dates[0] < dates[1]
        fetched = requests.get(second[kind], timeout=10)
        assert fetched.status_code == 200 and fetched.content


def test_redaction_deletes_the_objects(s3, completed, api):
    assert len(keys_of(s3, completed)) == 4
    assert api.post(f"/api/v1/kyc/sessions/{completed.id}/redact").status_code == 202
    tasks.redact_session(str(completed.id))
    assert keys_of(s3, completed) == []
    assert not default_storage.exists(f"kyc/{completed.client_id}/{completed.id}/face_image.jpg")
    response = api.get(f"/api/v1/kyc/sessions/{completed.id}/documents/face_image")
    assert response.status_code == 410 and response.json()["error"] == "GONE"
