from rest_framework import authentication, exceptions

from .models import ApiKey, Client
from .selectors import api_key_get_for_auth
from .services import api_key_touch

INVALID_KEY = "Invalid API key"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer ts_live_…`. On success `request.user` is the Client
    and `request.auth` the ApiKey."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower().encode():
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        try:
            raw_key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(INVALID_KEY) from None
        if not raw_key.startswith(("ts_live_", "ts_test_")):
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        api_key = api_key_get_for_auth(raw_key=raw_key)
        if api_key is None or api_key.status != ApiKey.Status.ACTIVE or api_key.client.status != Client.Status.ACTIVE:
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        api_key_touch(api_key=api_key)
        return api_key.client, api_key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'
