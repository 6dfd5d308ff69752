"""truestack/prepared.py: reads and writes compiled once do what the ORM does."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, signals
from django.test.utils import CaptureQueriesContext

from billing.models import Hold
from kyc.models import KycSession, ProviderCallback
from truestack.prepared import PreparedRead, fields_save, row_insert
from webhooks.models import Delivery, Event

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
    annotated = PreparedRead(lambda pk: KycSession.objects.annotate(n=Count("client")).filter(pk=pk), "pk")
    with pytest.raises(ValueError):
        annotated.get(pk=session.pk)


def test_a_read_following_rows_builds_them_as_the_orm_does(session):
    prepared = PreparedRead(
        lambda pk: (
            KycSession.objects.select_related("client", "api_key")
            .only("id", "client__name", "api_key__prefix")
            .filter(pk=pk)[:1]
        ),
        "pk",
    )
    prepared.get(pk=session.pk)  # compiled here
    with CaptureQueriesContext(connection) as captured:
        got = prepared.get(pk=session.pk)
        assert got.client.name == session.client.name
        assert got.api_key.prefix == session.api_key.prefix
    assert len(captured) == 1  # the related rows came with it


def test_rows_are_every_row_in_order(session, make_client, make_api_key):
    client = session.client
    key = session.api_key
    for n in range(3):
        KycSession.objects.create(client=client, api_key=key, ref_id=f"REF-{n + 2}", expires_at="2030-01-01T00:00:00Z")
    other = make_client()
    KycSession.objects.create(
        client=other, api_key=make_api_key(other)[0], ref_id="X", expires_at="2030-01-01T00:00:00Z"
    )
    prepared = PreparedRead(
        lambda client_id: KycSession.objects.filter(client_id=client_id).order_by("ref_id"), "client_id"
    )
    got = prepared.rows(client_id=client.pk)
    assert [s.ref_id for s in got] == ["REF-1", "REF-2", "REF-3", "REF-4"]
    assert prepared.rows(client_id=make_client().pk) == []


def test_fields_save_writes_what_save_with_update_fields_writes(session):
    before = session.updated_at
    session.status = KycSession.Status.PROCESSING
    session.metadata = {"changed": True}
    session.document_name = "not saved"
    with CaptureQueriesContext(connection) as captured:
        fields_save(session, ["status", "metadata", "updated_at", "status"])
    assert len(captured) == 1
    saved = KycSession.objects.get(pk=session.pk)
    assert saved.status == KycSession.Status.PROCESSING
    assert saved.metadata == {"changed": True}
    assert saved.document_name == "Siti"  # not named: not written
    assert saved.updated_at > before  # auto_now stamped, as save() does
    assert saved.updated_at == session.updated_at


def test_fields_save_of_a_missing_row_raises_as_save_does(session):
    KycSession.objects.filter(pk=session.pk).delete()
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        fields_save(session, ["status"])


def test_row_insert_writes_what_create_writes(make_client, make_api_key):
    client = make_client()
    key = make_api_key(client)[0]
    values = dict(
        client=client,
        api_key=key,
        ref_id="REF-9",
        document_name="Siti",
        metadata={"user_id": "u-9"},
        face_match_score="88.10",
        expires_at="2030-01-01T00:00:00Z",
    )
    inserted = KycSession(**values)
    with CaptureQueriesContext(connection) as captured:
        row_insert(inserted)
    assert len(captured) == 1
    assert not inserted._state.adding
    created = KycSession.objects.create(**{**values, "ref_id": "REF-10"})
    got, orm = KycSession.objects.get(pk=inserted.pk), KycSession.objects.get(pk=created.pk)
    for field in KycSession._meta.concrete_fields:
        if field.name not in {"id", "ref_id", "created_at", "updated_at"}:
            assert getattr(got, field.attname) == getattr(orm, field.attname), field.name
    assert got.created_at is not None and got.created_at == inserted.created_at  # auto_now_add stamped


def test_row_insert_reads_back_a_numbered_key_and_refuses_a_duplicate():
    first = ProviderCallback(body="{}", body_sha256="0" * 64)
    row_insert(first)
    second = ProviderCallback(body="{}", body_sha256="1" * 64)
    row_insert(second)
    assert isinstance(first.pk, int) and second.pk > first.pk
    assert ProviderCallback.objects.get(pk=second.pk).body_sha256 == "1" * 64
    with pytest.raises(IntegrityError), transaction.atomic():
        row_insert(ProviderCallback(pk=first.pk, body="{}", body_sha256="2" * 64))


def test_a_read_by_an_integer(session):
    first = ProviderCallback(body="{}", body_sha256="3" * 64)
    row_insert(first)
    prepared = PreparedRead(lambda pk: ProviderCallback.objects.filter(pk=pk)[:1], numbers=("pk",))
    assert prepared.get(pk=first.pk).body_sha256 == "3" * 64
    assert prepared.get(pk=str(first.pk)).pk == first.pk
    assert prepared.get(pk=first.pk + 1000) is None


@pytest.mark.parametrize("model", [KycSession, ProviderCallback, Event, Delivery, Hold])
def test_nobody_listens_to_the_models_written_without_save(model):
    # row_insert and fields_save send no model signals: the models the services write
    # with them must have no receivers, or those would silently stop being called.
    for signal in (signals.pre_save, signals.post_save):
        assert not signal.has_listeners(model), f"{signal} has receivers for {model.__name__}"
