import uuid

from truestack.errors import NotFound

from .models import KycSession


def session_get_for_client(*, client, session_id: str) -> KycSession:
    """The client's own session; another client's or a malformed id is 404."""
    try:
        pk = uuid.UUID(str(session_id))
    except ValueError:
        raise NotFound("Session not found") from None
    try:
        return (
            KycSession.objects.exclude(status=KycSession.Status.FAILED)
            .defer("raw_result")  # provider debug data, never part of a client answer
            .get(pk=pk, client=client)
        )
    except KycSession.DoesNotExist:
        raise NotFound("Session not found") from None
