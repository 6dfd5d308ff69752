from django.core.management.base import BaseCommand

from billing.invoices import invoices_mark_overdue


class Command(BaseCommand):
    help = "Flag issued or partly paid invoices past their due date as overdue."

    def handle(self, *args, **options):
        self.stdout.write(f"{invoices_mark_overdue()} invoice(s) marked overdue")
