import uuid

from truestack.errors import NotFound

from .models import KycSession


def session_get_for_client(*, client, session_id: str, is_test: bool) -> KycSession:
    """The client's own session made in the same environment as the calling key
    (a test key sees test sessions only, a live key live ones); anything else,
    or a malformed id, is 404."""
    try:
        pk = uuid.UUID(str(session_id))
    except ValueError:
        raise NotFound("Session not found")
    try:
        return (
            KycSession.objects.exclude(status=KycSession.Status.FAILED)
            .defer("raw_result")  # provider debug data, never part of a client answer
            .get(pk=pk, client=client, is_test=is_test)
        )
    except KycSession.DoesNotExist:
        raise NotFound("Session not found")
