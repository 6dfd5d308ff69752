"""`manage.py retention_run [--dry-run] [--batch-size N]`: one batch of the retention
job (the scheduled task runs the same). `--dry-run` lists what would be removed."""

from django.core.management.base import BaseCommand

from kyc.redaction import retention_run


class Command(BaseCommand):
    help = "Apply the retention policies once (redact personal data and remove images past their retention)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only print what would be done.")
        parser.add_argument("--batch-size", type=int, default=None, help="Sessions per kind (default: setting).")

    def handle(self, *args, dry_run, batch_size, **options):
        run = retention_run(dry_run=dry_run, batch_size=batch_size)
        if dry_run:
            self.stdout.write(f"Would redact {len(run.personal_data_due)} session(s):")
            for session in run.personal_data_due:
                self.stdout.write(
                    f"  redact {session.id} client={session.client.code} ended={session.ended_at:%Y-%m-%d}"
                )
            redacting = {session.pk for session in run.personal_data_due}
            images = [session for session in run.images_due if session.pk not in redacting]
            self.stdout.write(f"Would remove the images of {len(images)} session(s):")
            for session in images:
                self.stdout.write(
                    f"  images {session.id} client={session.client.code} ended={session.ended_at:%Y-%m-%d}"
                )
            return
        self.stdout.write(
            f"Redacted {run.redacted} session(s), removed the images of {run.images_removed}, "
            f"finished {run.retried} stalled redaction(s)."
        )
