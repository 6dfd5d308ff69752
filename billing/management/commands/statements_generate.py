from django.core.management.base import BaseCommand, CommandError

from billing import invoices, statements
from clients.models import Client
from truestack.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Issue statements (and post-paid monthly invoices) for a past month, Asia/Kuala_Lumpur. "
        "Idempotent: what is already issued is left as it is."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM, a month that is over")
        parser.add_argument("--client", default=None, help="Only this client code")
        parser.add_argument("--no-invoices", action="store_true", help="Statements only")

    def handle(self, *args, month, client, no_invoices, **options):
        try:
            month_start = statements.month_parse(month)
            if client:
                target = Client.objects.filter(code=client).first()
                if target is None:
                    raise CommandError(f"No client with code {client!r}")
                issued = statements.statements_generate_for_month(month=month_start, client=target)
                new_invoices = []
                if not no_invoices:
                    invoice, created = invoices.monthly_invoice_get_or_issue(client=target, month=month_start)
                    if created:
                        if invoice is None:
                            raise CommandError("The monthly invoice was reported issued but none was returned")
                        new_invoices = [invoice]
            elif no_invoices:
                issued, new_invoices = statements.statements_generate_for_month(month=month_start), []
            else:
                outcome = invoices.monthly_documents_generate(month=month_start)
                issued, new_invoices = outcome["statements"], outcome["invoices"]
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for statement in issued:
            self.stdout.write(
                f"statement {statement.client.code} {statement.month:%Y-%m}: closing {statement.closing_balance} credits"
            )
        for invoice in new_invoices:
            self.stdout.write(f"invoice {invoice.number} {invoice.client.code}: RM {invoice.total}")
        self.stdout.write(f"{month}: {len(issued)} statement(s) and {len(new_invoices)} invoice(s) issued")
