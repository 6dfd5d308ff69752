"""Create a client: `python manage.py create_client CODE --name NAME [--allow-overdraft]
[--email E] [--credits N]`. Prints the client's code and id."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from billing.services import credit_add
from clients.models import Client
from clients.services import client_create
from truestack.errors import ApplicationError


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = "Create a client (and optionally give it an opening balance of credits)."

    def add_arguments(self, parser):
        parser.add_argument("code", help="2 to 16 letters, digits or underscores; used in provider reference ids.")
        parser.add_argument("--name", required=True, help="The client's business name.")
        parser.add_argument("--allow-overdraft", action="store_true", help="May create sessions without credits.")
        parser.add_argument("--email", default="", help="Contact email.")
        parser.add_argument("--credits", type=int, default=0, help="Opening top-up, in credits (10 credits = RM 1).")

    def handle(self, *args, code, name, allow_overdraft, email, credits, **options):
        if credits < 0:
            raise CommandError("--credits must be zero or a positive number of credits.")
        if Client.objects.filter(code=code).exists():
            raise CommandError(f"A client with code {code!r} already exists.")
        try:
            # Client and opening balance together, or neither.
            with transaction.atomic():
                client = client_create(code=code, name=name, allow_overdraft=allow_overdraft, contact_email=email)
                if credits:
                    credit_add(client=client, credits=credits, kind="topup", description="Opening balance")
        except ValidationError as exc:
            raise CommandError(f"Invalid client: {_validation_message(exc)}") from exc
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        except IntegrityError as exc:
            raise CommandError(f"A client with code {code!r} already exists.") from exc
        suffix = f" with {credits} credits" if credits else ""
        self.stdout.write(f"Created client {client.code} ({client.id}){suffix}")
