from django.core.management.base import BaseCommand, CommandError

from billing.invoices import topup_record
from billing.models import LedgerEntry
from billing.services import MANUAL_KINDS, credit_add
from clients.models import Client
from truestack.errors import ApplicationError


class Command(BaseCommand):
    help = "Add credits to a client (10 credits = RM 1) and print the new balance."

    def add_arguments(self, parser):
        parser.add_argument("code", help="Client code")
        parser.add_argument("credits", type=int, help="Credits; only an adjustment may be negative")
        parser.add_argument("--description", default="", help="Invoice/payment reference or reason")
        parser.add_argument("--kind", default=LedgerEntry.Kind.TOPUP, choices=[str(k) for k in MANUAL_KINDS])

    def handle(self, *args, code, credits, description, kind, **options):
        client = Client.objects.filter(code=code).first()
        if client is None:
            raise CommandError(f"No client with code {code!r}")
        invoice = None
        try:
            if kind == LedgerEntry.Kind.TOPUP:
                # A paid top-up: its tax invoice is issued (and marked paid) with it.
                entry, invoice = topup_record(client=client, credits=credits, description=description)
            else:
                entry = credit_add(client=client, credits=credits, kind=kind, description=description)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if invoice is not None:
            self.stderr.write(f"{client.code}: tax invoice {invoice.number} issued, RM {invoice.total} paid")
        self.stdout.write(f"{client.code}: {kind} {entry.amount:+d} credits; balance {entry.balance_after} credits")
