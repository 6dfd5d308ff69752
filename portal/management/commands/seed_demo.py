"""Make sure the demo exists (idempotent): operator `admin`, client DEMO_CLI with an
opening balance, and a live and a test API key. Keys are stored hashed and shown
once, so the demo's raw keys are kept in DATA_DIR/demo-keys.json (mode 0600) and
reused on later runs. Prints a JSON summary on stdout (read by truestack.runner)."""

import json
import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from billing.models import LedgerEntry
from billing.selectors import balance_get
from billing.services import credit_add
from clients.models import ApiKey, Client
from clients.selectors import api_key_get_for_auth
from clients.services import api_key_create, client_create

DEMO_USERNAME = "admin"
DEMO_PASSWORD_DEFAULT = "truestack-demo"  # noqa: S105 - the documented demo login; refused in production
DEMO_CLIENT_CODE = "DEMO_CLI"
DEMO_CLIENT_NAME = "Demo Lender Sdn Bhd"
DEMO_OPENING_CREDITS = 1000
DEMO_KEY_LABEL = "Demo (make run)"
KEYS_FILE_NAME = "demo-keys.json"


def _keys_path() -> Path:
    return Path(settings.DATA_DIR) / KEYS_FILE_NAME


def _read_keys(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_keys(path: Path, keys: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keys, handle, indent=2)
        handle.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class Command(BaseCommand):
    help = "Create the demo operator, demo client and demo API keys if missing; print them as JSON."

    def handle(self, *args, **options):
        module = settings.SETTINGS_MODULE or os.environ.get("DJANGO_SETTINGS_MODULE", "")
        if module.endswith(".production"):
            raise CommandError("seed_demo creates a superuser with a known password; it refuses production settings.")
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or DEMO_PASSWORD_DEFAULT
        self._ensure_admin(password)
        client = self._ensure_client()
        self._ensure_opening_balance(client)
        keys = self._ensure_keys(client)
        summary = {
            "admin_url": f"{settings.PUBLIC_BASE_URL}/admin/",
            "username": DEMO_USERNAME,
            "password": password,
            "client_code": client.code,
            "live_key": keys["live"],
            "test_key": keys["test"],
            "keys_file": str(_keys_path()),
            "balance": self._balance(client),
        }
        self.stdout.write(json.dumps(summary, indent=2))

    def _ensure_admin(self, password: str) -> None:
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            User.objects.create_superuser(DEMO_USERNAME, email="", password=password)
            return
        # Keep the printed demo login true to what works.
        changed = []
        if not (user.is_active and user.is_staff and user.is_superuser):
            user.is_active = user.is_staff = user.is_superuser = True
            changed += ["is_active", "is_staff", "is_superuser"]
        if not user.check_password(password):
            user.set_password(password)
            changed.append("password")
        if changed:
            user.save(update_fields=changed)

    def _ensure_client(self) -> Client:
        client = Client.objects.filter(code=DEMO_CLIENT_CODE).first()
        if client is not None:
            return client
        try:
            with transaction.atomic():
                return client_create(code=DEMO_CLIENT_CODE, name=DEMO_CLIENT_NAME, allow_overdraft=False)
        except IntegrityError:
            return Client.objects.get(code=DEMO_CLIENT_CODE)

    def _ensure_opening_balance(self, client: Client) -> None:
        if LedgerEntry.objects.filter(client=client).exists():
            return
        credit_add(client=client, credits=DEMO_OPENING_CREDITS, kind="topup", description="Opening balance")

    @staticmethod
    def _balance(client: Client) -> int:
        return balance_get(client=client)

    def _ensure_keys(self, client: Client) -> dict:
        path = _keys_path()
        stored = _read_keys(path)
        keys = {}
        for environment in (ApiKey.Environment.LIVE, ApiKey.Environment.TEST):
            raw = stored.get(environment)
            if isinstance(raw, str) and self._key_usable(raw, client, environment):
                keys[environment] = raw
            else:
                _, keys[environment] = api_key_create(client=client, environment=environment, label=DEMO_KEY_LABEL)
        if keys != {k: stored.get(k) for k in keys}:
            _write_keys(path, keys)
        return keys

    @staticmethod
    def _key_usable(raw: str, client: Client, environment: str) -> bool:
        api_key = api_key_get_for_auth(raw_key=raw)
        return (
            api_key is not None
            and api_key.client_id == client.pk
            and api_key.environment == environment
            and api_key.status == ApiKey.Status.ACTIVE
        )
