from django.core.management.base import BaseCommand, CommandError

from billing.services import ledger_check


class Command(BaseCommand):
    help = "Verify balances, holds and the ledger; exits non-zero when anything is inconsistent."

    def handle(self, *args, **options):
        problems = ledger_check()
        if not problems:
            self.stdout.write("OK")
            return
        for problem in problems:
            self.stdout.write(problem)
        raise CommandError(f"{len(problems)} ledger problem(s) found")
