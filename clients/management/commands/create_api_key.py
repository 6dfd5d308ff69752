"""Create an API key: `python manage.py create_api_key CODE [--environment live|test]
[--label TEXT]`. Prints only the new key on stdout (it is never shown again)."""

from django.core.management.base import BaseCommand, CommandError

from clients.models import LABEL_MAX_LENGTH, ApiKey, Client
from clients.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a client and print it (only the key, once)."

    def add_arguments(self, parser):
        parser.add_argument("code", help="The client's code.")
        parser.add_argument(
            "--environment",
            choices=ApiKey.Environment.values,
            default=ApiKey.Environment.LIVE,
            help="live (billed, real provider) or test (free, provider sandbox). Default: live.",
        )
        parser.add_argument("--label", default="", help="A note to recognise the key by.")

    def handle(self, *args, code, environment, label, **options):
        client = Client.objects.filter(code=code).first()
        if client is None:
            raise CommandError(f"No client with code {code!r}.")
        if len(label) > LABEL_MAX_LENGTH:
            raise CommandError("--label is at most 100 characters.")
        if not client.is_active:
            self.stderr.write(f"Warning: client {code} is suspended; the key will not authenticate until it is active.")
        _, raw = api_key_create(client=client, environment=environment, label=label)
        self.stdout.write(raw)
