import uuid

from truestack.errors import NotFound

from .models import KycSession


def session_get_for_client(*, client, session_id: str, fields: tuple[str, ...] | None = None) -> KycSession:
    """The client's own session; another client's or a malformed id is 404.
    `fields`: load only these columns (a read that presents a known shape)."""
    try:
        pk = uuid.UUID(str(session_id))
    except ValueError:
        raise NotFound("Session not found") from None
    try:
        sessions = KycSession.objects.exclude(status=KycSession.Status.FAILED)
        if fields is not None:
            sessions = sessions.only(*fields)
        else:
            sessions = sessions.defer("raw_result")  # provider debug data, never part of a client answer
        return sessions.get(pk=pk, client=client)
    except KycSession.DoesNotExist:
        raise NotFound("Session not found") from None
