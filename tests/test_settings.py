"""Production settings refuse insecure defaults (checked in a fresh interpreter)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def load_production(tmp_path, **overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL", "ALLOW_SQLITE", "ALLOW_NO_REDIS")
    }
    env.update(DJANGO_SETTINGS_MODULE="truestack.settings.production", DATA_DIR=str(tmp_path), **overrides)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


GOOD = {
    "SECRET_KEY": "k" * 20 + "-production-secret-0123456789",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without(tmp_path, missing):
    env = dict(GOOD, FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    del env[missing]
    result = load_production(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


def test_production_refuses_the_insecure_default_secret(tmp_path):
    env = dict(
        GOOD, FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(), SECRET_KEY="insecure-dev-secret-key-change-me"
    )
    result = load_production(tmp_path, **env)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_production_starts_when_configured(tmp_path):
    result = load_production(tmp_path, FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(), **GOOD)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def _run(code: str, **env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_importing_the_settings_touches_no_disk(tmp_path):
    data_dir = tmp_path / "state"
    result = _run("import truestack.settings.local", DATA_DIR=str(data_dir))
    assert result.returncode == 0, result.stderr
    assert not data_dir.exists()


def test_django_startup_creates_the_local_folders(tmp_path):
    data_dir = tmp_path / "state"
    result = _run(
        "import django; django.setup()", DJANGO_SETTINGS_MODULE="truestack.settings.local", DATA_DIR=str(data_dir)
    )
    assert result.returncode == 0, result.stderr
    for folder in ("static", "broker/queue", "broker/processed", "broker/control"):
        assert (data_dir / folder).is_dir(), folder
