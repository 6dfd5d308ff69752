from .models import ApiKey
from .services import api_key_digest


def api_key_get_for_auth(*, raw_key: str) -> ApiKey | None:
    """One indexed query: the key by digest, with its client."""
    return ApiKey.objects.select_related("client").filter(key_hash=api_key_digest(raw_key)).first()
