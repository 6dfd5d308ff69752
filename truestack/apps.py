from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


def local_dirs_create() -> None:
    """Create the local folders the configured backends write to: the SQLite
    database's folder, STATIC_ROOT and the embedded broker's folders. Done when
    Django starts, not when the settings are imported."""
    folders = [Path(settings.STATIC_ROOT)]
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and str(database["NAME"]) != ":memory:":
        folders.append(Path(str(database["NAME"])).parent)
    if settings.CELERY_BROKER_URL == "filesystem://":
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        folders += [
            Path(options[key]) for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
        ]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)


class TruestackConfig(AppConfig):
    name = "truestack"
    verbose_name = "TrueStack"

    def ready(self) -> None:
        local_dirs_create()
