"""truestack/prepared.py: a read compiled once gives what the ORM gives."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kyc.models import KycSession
from truestack.prepared import PreparedRead

pytestmark = pytest.mark.django_db

FIELDS = ("id", "client_id", "status", "metadata", "created_at", "face_match_score")


@pytest.fixture
def session(make_client, make_api_key):
    client = make_client()
    key = make_api_key(client)[0]
    return KycSession.objects.create(
        client=client,
        api_key=key,
        ref_id="REF-1",
        document_name="Siti",
        document_number="900101-14-1234",
        metadata={"user_id": "u-1", "nested": {"n": 1}},
        face_match_score="91.50",
        expires_at="2030-01-01T00:00:00Z",
    )


def read():
    return PreparedRead(
        lambda pk, client_id: KycSession.objects.only(*FIELDS).filter(pk=pk, client_id=client_id)[:1], "pk", "client_id"
    )


def test_the_instance_equals_the_orm_one_and_is_read_with_one_query(session):
    prepared = read()
    prepared.get(pk=session.pk, client_id=session.client_id)  # compiled here
    with CaptureQueriesContext(connection) as captured:
        got = prepared.get(pk=session.pk, client_id=session.client_id)
    assert len(captured) == 1
    orm = KycSession.objects.only(*FIELDS).get(pk=session.pk)
    for name in FIELDS:
        assert getattr(got, name) == getattr(orm, name), name
    assert got.metadata == {"user_id": "u-1", "nested": {"n": 1}}  # the JSON field's converter ran
    assert got.document_name == "Siti"  # a field not read loads on access, as with .only()


def test_other_values_and_no_row(session, make_client):
    prepared = read()
    assert prepared.get(pk=session.pk, client_id=session.client_id).pk == session.pk
    assert prepared.get(pk=session.pk, client_id=make_client().pk) is None


def test_a_read_that_cannot_be_prepared_is_refused(session):
    twice = PreparedRead(lambda pk: KycSession.objects.filter(pk=pk) | KycSession.objects.filter(ref_id=pk), "pk")
    with pytest.raises(ValueError):
        twice.get(pk=session.pk)
    related = PreparedRead(lambda pk: KycSession.objects.select_related("client").filter(pk=pk), "pk")
    with pytest.raises(ValueError):
        related.get(pk=session.pk)
