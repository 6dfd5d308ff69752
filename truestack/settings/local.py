"""Embedded default (`make run`): no servers needed, provider sandbox on."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=True)
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=True)
INNOVATIF_ALLOW_PLAINTEXT_CALLBACKS = env.bool("INNOVATIF_ALLOW_PLAINTEXT_CALLBACKS", default=False)
