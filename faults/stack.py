"""The stack under test: a private PostgreSQL cluster and Redis, then gunicorn
(gthread), a prefork worker, a threads webhooks worker and beat, all with the
production settings, on 127.0.0.1 ports 27550-27559. Everything started here is
stopped by `Stack.stop()`, also when a scenario fails."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# Below the kernel's ephemeral range (32768-60999), so no outgoing connection can hold one.
PORTS = {"postgres": 27550, "redis": 27551, "web": 27552, "provider": 27553, "healthy": 27554, "dripping": 27555}
FERNET_KEY = "ZmF1bHRzLWZhdWx0cy1mYXVsdHMtZmF1bHRzLWtleSE="  # a fixed throwaway key (32 bytes, base64)


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, check=True, capture_output=True, text=True, **kwargs)


class Stack:
    def __init__(self, *, web_workers: int = 2, web_threads: int = 4, webhook_threads: int = 8):
        self._argv: dict[str, list[str]] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="truestack-faults-"))
        os.chmod(self.tmp, 0o777)
        self.pg_data = self.tmp / "pg"
        self.web_workers = web_workers
        self.web_threads = web_threads
        self.webhook_threads = webhook_threads
        self.procs: dict[str, subprocess.Popen] = {}
        self.procs_lock = threading.Lock()
        self.restarts: dict[str, int] = {}
        self.stopping = threading.Event()
        self.pg_running = False
        self.base_url = f"http://127.0.0.1:{PORTS['web']}"
        self.database_url = f"postgres://postgres@127.0.0.1:{PORTS['postgres']}/truestack"
        self.keys: dict[str, str] = {}

    # --- environment ---------------------------------------------------------------

    def env(self) -> dict[str, str]:
        provider = f"http://127.0.0.1:{PORTS['provider']}/v1/gateway"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="truestack.settings.production",
            SECRET_KEY="faults-" + "s" * 40,
            FIELD_ENCRYPTION_KEYS=FERNET_KEY,
            DATABASE_URL=self.database_url,
            REDIS_URL=f"redis://127.0.0.1:{PORTS['redis']}/0",
            DATA_DIR=str(self.tmp / "data"),
            PUBLIC_BASE_URL=self.base_url,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_COOKIES="false",
            INNOVATIF_BASE_URL=provider,
            SANDBOX_BASE_URL=provider,
            INNOVATIF_READ_TIMEOUT="15",
            # Receivers run on 127.0.0.1: the only production default changed on purpose.
            WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
            # Short clocks so recovery is measured in seconds, not the production hours.
            WEBHOOK_SWEEP_INTERVAL_SECONDS="1",
            WEBHOOK_BACKOFF_BASE_SECONDS="1",
            WEBHOOK_BACKOFF_MAX_SECONDS="4",
            WEBHOOK_MAX_ATTEMPTS="100",
            WEBHOOK_REQUEUE_AFTER_SECONDS="10",
            WEBHOOK_ATTEMPT_DEADLINE_SECONDS="4",
            WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT="2",
            WEBHOOK_CLIENT_BUSY_DELAY_SECONDS="1",
            PROVIDER_MAX_CONCURRENT_CALLS="2",
            PROVIDER_CALL_WAIT_SECONDS="0.05",
            API_RATE_LIMIT_PER_MINUTE="100000",
            INNOVATIF_CALLBACK_RATE_LIMIT_PER_MINUTE="100000",
            MAX_OPEN_SESSIONS="10000",
            MAX_OPEN_TEST_SESSIONS="5",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        return env

    def manage(self, *args: str, code: str | None = None) -> str:
        argv = [sys.executable, "manage.py", *args] if code is None else [sys.executable, "-c", code]
        done = subprocess.run(argv, cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"{args or 'script'} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    # --- PostgreSQL and Redis ----------------------------------------------------------

    def start_postgres(self) -> None:
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(self.pg_data), "-A", "trust", "-U", "postgres"])
        self._pg_ctl("start")
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(PORTS["postgres"]),
                "-U",
                "postgres",
                "-qc",
                "CREATE DATABASE truestack",
            ],
            check=True,
            capture_output=True,
        )

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {PORTS['postgres']} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.pg_data),
                "-o",
                options,
                "-l",
                str(self.tmp / "pg.log"),
                "-w",
                *extra,
                action,
            ],
            timeout=120,
        )
        self.pg_running = action != "stop"

    def restart_postgres(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def stop_postgres_for(self, seconds: float) -> None:
        self._pg_ctl("stop", "-m", "fast")
        time.sleep(seconds)
        self._pg_ctl("start")

    def start_redis(self) -> None:
        self._spawn(
            "redis",
            ["redis-server", "--port", str(PORTS["redis"]), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        )
        for _ in range(50):
            if subprocess.run(["redis-cli", "-p", str(PORTS["redis"]), "ping"], capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("redis did not start")

    # --- application processes -----------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        with self.procs_lock:
            self.procs[name] = proc
        if name != "redis":
            self._argv[name] = argv

    def supervise(self) -> None:
        """Restart an application process that exits, as the platform's process
        manager (Procfile dyno manager, systemd Restart=always) does in production."""

        def watch():
            while not self.stopping.wait(0.5):
                with self.procs_lock:
                    dead = [n for n, p in self.procs.items() if n in self._argv and p.poll() is not None]
                for name in dead:
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    self._spawn(name, self._argv[name])

        threading.Thread(target=watch, daemon=True).start()

    def start_app(self) -> None:
        self.manage("migrate", "--noinput")
        self.start_web()
        self.start_worker("worker")
        self.start_worker("webhooks")
        self.start_worker("beat")
        self.supervise()
        self.wait_healthy(timeout=90)

    def start_web(self) -> None:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self._spawn(
            "web",
            [
                gunicorn,
                "truestack.wsgi",
                "--bind",
                f"127.0.0.1:{PORTS['web']}",
                "--workers",
                str(self.web_workers),
                "--threads",
                str(self.web_threads),
                "--worker-class",
                "gthread",
                "--timeout",
                "60",
            ],
        )

    def start_worker(self, kind: str) -> None:
        celery = str(Path(sys.executable).parent / "celery")
        argv = {
            "worker": [
                celery,
                "-A",
                "truestack",
                "worker",
                "-Q",
                "celery",
                "-n",
                "default@faults",
                "-c",
                "2",
                "-l",
                "WARNING",
            ],
            "webhooks": [
                celery,
                "-A",
                "truestack",
                "worker",
                "-Q",
                "webhooks",
                "-n",
                "webhooks@faults",
                "-P",
                "threads",
                "-c",
                str(self.webhook_threads),
                "-l",
                "WARNING",
            ],
            "beat": [celery, "-A", "truestack", "beat", "-l", "WARNING", "-s", str(self.tmp / "beat-schedule")],
        }[kind]
        self._spawn(kind, argv)

    def kill9(self, name: str) -> None:
        """kill -9 the process group (celery's pool children, gunicorn's workers too);
        the supervisor starts it again (Redis: the scenario does)."""
        with self.procs_lock:
            proc = self.procs[name] if name != "redis" else self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def web_worker_pids(self) -> list[int]:
        master = self.procs["web"].pid
        out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        return [int(pid) for pid in out]

    def rss_mib(self, pids: list[int]) -> float:
        total = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except FileNotFoundError:
                continue
        return total / 1024

    def wait_healthy(self, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"/healthz not 200 within {timeout}s (logs in {self.tmp})")

    def setup_clients(self) -> None:
        code = """
import json, django
django.setup()
from billing.services import credit_add
from clients.models import ApiKey
from clients.services import api_key_create, client_create
keys = {}
for code in ("HEALTHY", "NOISY"):
    client = client_create(code=code, name=code.title() + " Sdn Bhd")
    credit_add(client=client, credits=10_000_000, description="fault suite")
    keys[code.lower()] = api_key_create(client=client, environment=ApiKey.Environment.LIVE)[1]
    keys[code.lower() + "_test"] = api_key_create(client=client, environment=ApiKey.Environment.TEST)[1]
print(json.dumps(keys))
"""
        self.keys = json.loads(self.manage(code=code).strip().splitlines()[-1])

    # --- teardown ------------------------------------------------------------------------

    def stop(self, *, keep_logs: bool = False) -> None:
        self.stopping.set()
        time.sleep(0.6)  # the supervisor has seen it
        for proc in list(self.procs.values()):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 15
        for proc in list(self.procs.values()):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        self.procs.clear()
        if self.pg_running:
            try:
                self._pg_ctl("stop", "-m", "immediate")
            except subprocess.CalledProcessError:
                pass
        if keep_logs:
            print(f"logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
