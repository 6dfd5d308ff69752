"""`manage.py subject_access_export --id-number 901234-56-7890 --out subject.zip --operator USERNAME`:
everything TrueStack holds about one ID number (sessions as JSON, images), audited."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from kyc.subject_access import subject_access_export


class Command(BaseCommand):
    help = "Export everything held about one ID number (a data subject's access request) as a zip."

    def add_arguments(self, parser):
        parser.add_argument("--id-number", required=True, help="MyKad or passport number; dashes are ignored.")
        parser.add_argument("--out", required=True, help="Path of the zip file to write.")
        parser.add_argument("--operator", required=True, help="Username of the staff member answering the request.")
        parser.add_argument("--reason", default="", help="Reference of the request (ticket number); no personal data.")

    def handle(self, *args, id_number, out, operator, reason, **options):
        user = get_user_model().objects.filter(username=operator, is_active=True, is_staff=True).first()
        if user is None:
            raise CommandError(f"No active staff user {operator!r}.")
        path = Path(out)
        if path.exists():
            raise CommandError(f"{path} exists; choose a new file.")
        count = subject_access_export(id_number=id_number, out=path, operator=user, reason=reason)
        self.stdout.write(f"{count} session(s) exported to {path}; the export is recorded in the access log.")
