from django.core.management.base import BaseCommand, CommandError

from billing.statements import statements_check


class Command(BaseCommand):
    help = "Reconcile every issued statement with the ledger; exits non-zero on any difference."

    def handle(self, *args, **options):
        problems = statements_check()
        if not problems:
            self.stdout.write("OK")
            return
        for problem in problems:
            self.stdout.write(problem)
        raise CommandError(f"{len(problems)} statement problem(s) found")
