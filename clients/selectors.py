from django.conf import settings

from . import keycache
from .models import ApiKey, Client
from .services import api_key_digest


def api_key_get_for_auth(*, raw_key: str) -> ApiKey | None:
    """The key by digest, with its client: one indexed query, or none when this
    process found the same active key less than API_KEY_CACHE_SECONDS ago."""
    digest = api_key_digest(raw_key)
    ttl = settings.API_KEY_CACHE_SECONDS
    if ttl > 0:
        cached = keycache.get(digest)
        if cached is not None:
            return cached
    try:  # unordered: `.first()` would add ORDER BY to a unique lookup
        api_key = ApiKey.objects.select_related("client").get(key_hash=digest)
    except ApiKey.DoesNotExist:
        return None
    if (
        ttl > 0
        and api_key is not None
        and api_key.status == ApiKey.Status.ACTIVE
        and api_key.client.status == Client.Status.ACTIVE
    ):
        keycache.put(digest, api_key, ttl=ttl)
    return api_key
