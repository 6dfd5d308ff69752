import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "truestack.settings.local")

app = Celery("truestack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Database connections are per thread. Celery's own clean-up runs only every
# CELERY_DB_REUSE_MAX tasks, and in the threads pool only for the thread it runs
# in, so after a database restart every pool thread kept its broken connection.
# Closing unusable or expired connections around each task, in the thread that
# runs it, makes every worker recover by itself (with CONN_HEALTH_CHECKS the
# first query of the next task also checks a reused connection).
@task_prerun.connect
@task_postrun.connect
def _release_unusable_connections(sender=None, task=None, **kwargs) -> None:
    if task is not None and getattr(task.request, "is_eager", False):
        return  # run inline by a caller that owns the connection (and maybe a transaction)
    close_old_connections()
