"""TrueStack benchmark harness (`make bench`, `make bench-quick`).

Starts on 127.0.0.1 only: the web (gunicorn, production settings, PostgreSQL and
Redis), a Celery worker, the provider sandbox as its own gunicorn with an added
latency, and a webhook receiver (bench/receiver.py). Seeds a client and a live
key, then measures with wrk:

- the floor (bench/floor_urls.py) and GET / create / finalized refresh, as
  requests/s, p50/p95/p99, errors, DB queries and round trips per request, CPU
  of the load generator and of each server process group;
- end to end: provider callbacks fired at a fixed rate until the signed webhook
  reaches the receiver;
- a backlog of due deliveries drained against a receiver taking 200 ms each;
- peak RSS of the web and worker processes.

Prints one table and writes bench/results/<timestamp>.json and latest.json.
See docs/performance.md. Every loop and wait here is bounded; every child is
started in its own process group and stopped on exit (normal, error, Ctrl-C,
SIGTERM).
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# The checkout whose code the servers run (--app-dir; default this one): lets the
# same harness measure an older commit for before/after pairs.
APP_ROOT = ROOT
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
WRK_SCRIPT = BENCH_DIR / "wrk_request.lua"
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

# Reference figures for an earlier Node.js implementation of the same API on this
# machine kind (wrk -t2 -c16 -d20s, PostgreSQL 15, provider answering instantly).
REFERENCE = {"get_rps": 600, "create_rps": 270, "get_round_trips": 2, "create_round_trips": 8}
TARGETS = {
    "get_vs_floor": 0.80,
    "create_vs_floor": 0.60,
    "create_overhead_p99_ms": 25.0,
    "e2e_p99_ms": 1000.0,
    "backlog_drain_s": 60.0,
}

CREATE_BODY = {
    "document_name": "Ahmad bin Abdullah",
    "document_number": "901234-56-7890",
    "document_type": "1",
    "platform": "Web",
    "metadata": {"user_id": "usr_12345", "application_id": "app_67890"},
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- infrastructure ------------------------------------------------------------------


def _run(cmd, *, env=None, check=True, capture=True, timeout=600, input_text=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd,
        cwd=APP_ROOT,
        env=env,
        check=check,
        timeout=timeout,
        text=True,
        input=input_text,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
    )


def ensure_postgres_and_redis(database_url: str, redis_url: str) -> None:
    """Same steps as .ci/run: start the local PostgreSQL cluster and Redis if they
    do not answer."""
    db = urlsplit(database_url)
    pg_host, pg_port = db.hostname or "127.0.0.1", str(db.port or 5432)
    if _run(["pg_isready", "-h", pg_host, "-p", pg_port, "-q"], check=False).returncode != 0:
        log("starting PostgreSQL")
        versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
        if not versions:
            raise SystemExit("PostgreSQL is not running and no local cluster was found in /etc/postgresql")
        _run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "start"], check=False)
        for _ in range(30):
            if _run(["pg_isready", "-h", pg_host, "-p", pg_port, "-q"], check=False).returncode == 0:
                break
            time.sleep(1)
        else:
            raise SystemExit("PostgreSQL did not start")
    redis = urlsplit(redis_url)
    r_host, r_port = redis.hostname or "127.0.0.1", str(redis.port or 6379)
    if _run(["redis-cli", "-h", r_host, "-p", r_port, "ping"], check=False).returncode != 0:
        log("starting Redis")
        os.makedirs("/var/lib/redis", exist_ok=True)
        os.makedirs("/var/log/redis", exist_ok=True)
        _run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "-::1",
                "--port",
                r_port,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/var/lib/redis",
                "--logfile",
                "/var/log/redis/ci.log",
            ],
            check=False,
        )
        for _ in range(30):
            if _run(["redis-cli", "-h", r_host, "-p", r_port, "ping"], check=False).returncode == 0:
                break
            time.sleep(1)
        else:
            raise SystemExit("Redis did not start")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: install it with `sudo apt-get install -y wrk`")
    log("installing wrk (apt-get)")
    _run(["apt-get", "update", "-qq"], capture=True, timeout=600)
    _run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture=True,
        timeout=600,
    )
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed")
    return found


def reset_database(database_url: str) -> None:
    db = urlsplit(database_url)
    name = db.path.lstrip("/")
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing database name {name!r}")
    base = [
        "psql",
        "-h",
        db.hostname or "127.0.0.1",
        "-p",
        str(db.port or 5432),
        "-U",
        db.username or "postgres",
        "-d",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-qc",
    ]
    env = {**os.environ, **({"PGPASSWORD": db.password} if db.password else {})}
    _run(base + [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], env=env)
    _run(base + [f'CREATE DATABASE "{name}"'], env=env)


def flush_redis(redis_url: str) -> None:
    redis = urlsplit(redis_url)
    number = redis.path.lstrip("/") or "0"
    _run(["redis-cli", "-h", redis.hostname or "127.0.0.1", "-p", str(redis.port or 6379), "-n", number, "FLUSHDB"])


# --- child processes -------------------------------------------------------------------


class Children:
    """Every child in its own process group, stopped group-wide by its own pid."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()

    def start(self, name: str, cmd: list[str], env: dict) -> subprocess.Popen:
        handle = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            cmd,
            cwd=APP_ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        handle.close()
        with self.lock:
            self.procs[name] = proc
        return proc

    def stop(self, name: str, timeout: float = 15.0) -> None:
        with self.lock:
            proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
        # Threads or workers left in the group (none expected after a clean stop).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name, timeout=10)

    def pid(self, name: str) -> int | None:
        proc = self.procs.get(name)
        return proc.pid if proc is not None and proc.poll() is None else None

    def check_alive(self, *names: str) -> None:
        for name in names:
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                tail = _tail(self.log_dir / f"{name}.log")
                raise SystemExit(f"{name} is not running (see {self.log_dir / name}.log):\n{tail}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- /proc sampling -----------------------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, str, int, int]]:
    """pid -> (ppid, comm, cpu ticks, cpu ticks of its reaped children)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                raw = fh.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), comm, int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]))
    return table


def _descendants(table, root: int) -> set[int]:
    found = {root} if root in table else set()
    changed = True
    while changed:
        changed = False
        for pid, (ppid, *_) in table.items():
            if ppid in found and pid not in found:
                found.add(pid)
                changed = True
    return found


def _machine_ticks() -> tuple[int, int]:
    """(busy ticks, interrupt ticks) of the whole machine."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values[:8]) - idle, values[5] + values[6]


def wait_for_quiet(*, max_wait: float, threshold_cores: float) -> tuple[float, float]:
    """Wait (bounded) until the machine is nearly idle, so other jobs on a shared
    box disturb a measurement less. Returns (busy cores in the last second, seconds waited)."""
    started = time.monotonic()
    while True:
        before = _machine_ticks()[0]
        time.sleep(1)
        busy = (_machine_ticks()[0] - before) / CLK_TCK
        waited = time.monotonic() - started
        if busy <= threshold_cores or waited >= max_wait:
            return round(busy, 2), round(waited, 1)


class CpuMeter:
    """CPU used by each process group between start() and stop(), in cores.
    `postgres` is the backends connected to the benchmark database plus the
    server's background processes (not other databases' backends);
    `pg_exited` is the CPU of PostgreSQL backends (any database) that ended
    during the measurement."""

    def __init__(self, children: Children, groups: tuple[str, ...], database_url: str):
        self.children = children
        self.groups = groups
        self.database_url = database_url

    def _postgres_pids(self) -> set[int]:
        import psycopg

        name = urlsplit(self.database_url).path.lstrip("/")
        try:
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE (datname = %s OR backend_type <> 'client backend') "
                    "AND pid <> pg_backend_pid()",
                    (name,),
                ).fetchall()
        except Exception:  # noqa: BLE001 - CPU accounting is best effort
            return set()
        return {row[0] for row in rows}

    @staticmethod
    def _postmaster_pid(table) -> int | None:
        for pid, (ppid, comm, *_) in table.items():
            if comm.startswith("postgres") and table.get(ppid, (0, ""))[1][:8] != "postgres":
                return pid
        return None

    def _sample(self) -> dict[str, dict[int, int]]:
        table = _proc_table()
        sample = {}
        for group in self.groups:
            pid = self.children.pid(group)
            sample[group] = {p: table[p][2] for p in _descendants(table, pid)} if pid else {}
        sample["postgres"] = {p: table[p][2] for p in self._postgres_pids() if p in table}
        # Backends that connected and exited in between (e.g. a connection per
        # task) show up only in the postmaster's reaped-children time, which
        # also holds other databases' short sessions (other jobs' tests).
        postmaster = self._postmaster_pid(table)
        sample["pg_exited"] = {postmaster: table[postmaster][3]} if postmaster else {}
        sample["redis"] = {p: t for p, (_, comm, t, _) in table.items() if comm.startswith("redis-server")}
        usage = resource.getrusage(resource.RUSAGE_SELF)
        sample["harness"] = {0: round((usage.ru_utime + usage.ru_stime) * CLK_TCK)}
        return sample

    def start(self) -> None:
        self.begin = self._sample()
        self.machine_begin = _machine_ticks()
        self.t0 = time.monotonic()

    def stop(self, extra_seconds: dict[str, float] | None = None) -> dict[str, float]:
        elapsed = time.monotonic() - self.t0
        machine_end = _machine_ticks()
        end = self._sample()
        cores = {}
        for group, pids in end.items():
            # Processes that exited meanwhile are missed; new ones count from zero.
            ticks = sum(t - self.begin[group].get(p, 0) for p, t in pids.items())
            cores[group] = round(max(0, ticks) / CLK_TCK / elapsed, 3)
        for key, seconds in (extra_seconds or {}).items():
            cores[key] = round(seconds / elapsed, 3)
        self.elapsed = elapsed
        busy_total = (machine_end[0] - self.machine_begin[0]) / CLK_TCK / elapsed
        cores["kernel_irq"] = round((machine_end[1] - self.machine_begin[1]) / CLK_TCK / elapsed, 2)
        cores["machine_busy"] = round(busy_total, 2)
        # Anything else on the machine (other jobs) during the measurement.
        cores["other"] = round(max(0.0, busy_total - sum(v for k, v in cores.items() if k != "machine_busy")), 2)
        return cores


class LockWaitSampler:
    """Counts the benchmark database's backends waiting on a lock
    (pg_stat_activity.wait_event_type = 'Lock') a few times a second, from its
    own thread; stop() returns the average and the maximum."""

    def __init__(self, database_url: str, interval: float = 0.2):
        self.database_url = database_url
        self.interval = interval
        self.samples: list[int] = []
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        import psycopg

        name = urlsplit(self.database_url).path.lstrip("/")
        try:
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                while not self.halt.is_set():
                    row = conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                        (name,),
                    ).fetchone()
                    self.samples.append(int(row[0]))
                    self.halt.wait(self.interval)
        except Exception:  # noqa: BLE001, S110 - sampling is best effort; no samples is reported as such
            pass

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> dict:
        self.halt.set()
        self.thread.join(timeout=5)
        samples = self.samples
        return {
            "samples": len(samples),
            "avg": round(sum(samples) / len(samples), 2) if samples else None,
            "max": max(samples, default=None),
        }


def peak_rss(children: Children, names: tuple[str, ...]) -> dict[str, dict]:
    """VmHWM (peak resident set) of every process in each group, in MiB."""
    table = _proc_table()
    out = {}
    for name in names:
        pid = children.pid(name)
        if not pid:
            continue
        processes = []
        for p in sorted(_descendants(table, pid)):
            try:
                status = Path(f"/proc/{p}/status").read_text()
            except OSError:
                continue
            hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
            rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
            processes.append(
                {
                    "pid": p,
                    "role": "master" if p == pid else "child",
                    "peak_mib": round(hwm / 1024, 1),
                    "rss_mib": round(rss / 1024, 1),
                }
            )
        out[name] = {
            "processes": processes,
            "peak_total_mib": round(sum(p["peak_mib"] for p in processes), 1),
            "peak_max_mib": max((p["peak_mib"] for p in processes), default=0),
        }
    return out


def merge_rss(into: dict, new: dict) -> None:
    for name, value in new.items():
        if name not in into or value["peak_total_mib"] > into[name]["peak_total_mib"]:
            into[name] = value


# --- HTTP helpers ------------------------------------------------------------------------------


def http_session():
    import requests

    session = requests.Session()
    session.trust_env = False  # never a proxy: everything is on 127.0.0.1
    return session


def wait_http(url: str, *, timeout: float, children: Children, name: str) -> None:
    session = http_session()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children.check_alive(name)
        try:
            if session.get(url, timeout=2).status_code < 500:
                return
        except Exception:  # noqa: BLE001, S110 - not listening yet
            pass
        time.sleep(0.25)
    raise SystemExit(f"{name} did not answer {url} within {timeout:.0f}s:\n{_tail(children.log_dir / f'{name}.log')}")


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(pct / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# --- profiling (--profile) -------------------------------------------------------------------


def py_spy() -> str | None:
    candidate = Path(PY).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def summarize_stacks(raw_path: Path, top: int = 25) -> dict:
    """Collapsed stacks ("f1;f2;f3 count") -> the functions with the most samples,
    inclusive (anywhere on the stack) and self (innermost frame)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    try:
        lines = raw_path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [frame.strip() for frame in stack.split(";") if frame.strip()]
        # Thread/process header frames (e.g. "process 123:...") are not functions.
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + samples
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + samples

    def ranked(table):
        return [
            {"function": name, "samples": n, "share": round(n / total, 3)}
            for name, n in sorted(table.items(), key=lambda item: -item[1])[:top]
        ]

    return {"samples": total, "inclusive": ranked(inclusive), "self": ranked(own)}


class Profiler:
    """py-spy record on running processes (with their subprocesses) for a while."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.tool = py_spy()
        out_dir.mkdir(parents=True, exist_ok=True)

    def start(self, label: str, targets: dict[str, int | None], duration: float) -> list:
        if not self.tool:
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install -r bench/requirements-bench.txt")
        running = []
        for name, pid in targets.items():
            if not pid:
                continue
            raw = self.out_dir / f"{label}-{name}.txt"
            cmd = [
                self.tool,
                "record",
                "--pid",
                str(pid),
                "--subprocesses",
                "--nonblocking",
                "--gil",  # only threads holding the GIL: where Python spends CPU, not where it waits
                "--rate",
                "100",
                "--duration",
                str(int(duration)),
                "--format",
                "raw",
                "--output",
                str(raw),
            ]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            running.append((name, raw, proc))
        return running

    def finish(self, running: list, timeout: float = 60) -> dict:
        out = {}
        for name, raw, proc in running:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.wait(timeout=10)
            out[name] = {"raw": str(raw), **summarize_stacks(raw)}
        return out


# --- the harness ----------------------------------------------------------------------------


# Callbacks fired (and delivered) before the measured end-to-end run: one per web thread.
E2E_WARMUP_CALLBACKS = 32


class Harness:
    def __init__(self, args):
        self.args = args
        self.data_dir = Path(args.data_dir)
        self.log_dir = self.data_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children = Children(self.log_dir)
        host = "127.0.0.1"
        self.web_url = f"http://{host}:{args.port_base + 1}"
        self.sandbox_url = f"http://{host}:{args.port_base + 2}"
        self.receiver_url = f"http://{host}:{args.port_base + 3}"
        self.gateway_url = f"{self.sandbox_url}/sandbox/innovatif/v1/gateway"
        self.results: dict = {"started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        self.rss: dict = {}
        self.used_sessions: set[str] = set()
        self.env = self._base_env()
        self.cpu_groups: tuple[str, ...] = ("web", "sandbox", "worker", "receiver")
        self.alive_groups: tuple[str, ...] = ("web", "sandbox")

    # -- environment and processes

    def _base_env(self) -> dict:
        from cryptography.fernet import Fernet

        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "truestack.settings.production",
                "PYTHONUNBUFFERED": "1",
                "SECRET_KEY": secrets.token_urlsafe(48),
                "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "DATABASE_URL": self.args.database_url,
                "REDIS_URL": self.args.redis_url,
                "DATA_DIR": str(self.data_dir),
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "PUBLIC_BASE_URL": self.web_url,
                "SECURE_COOKIES": "false",
                "SANDBOX_ENABLED": "false",
                "INNOVATIF_BASE_URL": self.gateway_url,
                "SANDBOX_BASE_URL": self.gateway_url,
                "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
                "API_RATE_LIMIT_PER_MINUTE": "1000000000",
                "MAX_OPEN_SESSIONS": "1000000000",
                "BENCH_FLOOR_ENABLED": "true",
                "LOG_LEVEL": self.args.log_level,
            }
        )
        for item in self.args.web_env:
            name, _, value = item.partition("=")
            env[name] = value
        return env

    def sandbox_env(self, latency_ms: int) -> dict:
        return {
            **self.env,
            "SANDBOX_ENABLED": "true",
            "SANDBOX_LATENCY_MS": str(latency_ms),
            "PUBLIC_BASE_URL": self.sandbox_url,
            "SANDBOX_CALLBACK_URL_PREFIX": self.web_url,
            "BENCH_FLOOR_ENABLED": "false",
        }

    def gunicorn_cmd(self, *, port: int, workers: int, threads: int, worker_class: str, name: str) -> list[str]:
        cmd = [
            PY,
            "-m",
            "gunicorn",
            "truestack.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--backlog",
            "2048",
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            "--name",
            f"bench-{name}",
            "--access-logfile",
            str(self.log_dir / f"{name}-access.log"),
        ]
        if worker_class == "gthread":
            cmd += ["--threads", str(threads)]
        return cmd

    def web_cmd(self) -> list[str]:
        a = self.args
        if a.web_server == "granian":
            # Rust HTTP server, the WSGI app run in --blocking-threads per worker process.
            return [
                PY,
                "-m",
                "granian",
                "--interface",
                "wsgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(a.port_base + 1),
                "--workers",
                str(a.web_workers),
                "--blocking-threads",
                str(a.web_threads),
                "--backlog",
                "2048",
                "--access-log",
                "truestack.wsgi:application",
            ]
        return self.gunicorn_cmd(
            port=a.port_base + 1,
            workers=a.web_workers,
            threads=a.web_threads,
            worker_class=a.web_worker_class,
            name="web",
        )

    def worker_cmd(self) -> list[str]:
        return [
            PY,
            "-m",
            "celery",
            "-A",
            "truestack",
            "worker",
            "-Q",
            "celery,webhooks",
            "-P",
            "threads",
            "-c",
            str(self.args.worker_concurrency),
            "-l",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"bench{os.getpid()}@%h",
        ]

    def start_sandbox(self, latency_ms: int) -> None:
        self.children.stop("sandbox")
        a = self.args
        self.children.start(
            "sandbox",
            self.gunicorn_cmd(
                port=a.port_base + 2,
                workers=a.sandbox_workers,
                threads=a.sandbox_threads,
                worker_class="gthread",
                name="sandbox",
            ),
            self.sandbox_env(latency_ms),
        )
        wait_http(f"{self.sandbox_url}/healthz", timeout=60, children=self.children, name="sandbox")
        self.sandbox_latency = latency_ms

    def start_worker(self) -> float:
        started = time.time()
        self.children.start("worker", self.worker_cmd(), self.env)
        return started

    def stop_worker(self) -> None:
        merge_rss(self.rss, peak_rss(self.children, ("worker",)))
        self.children.stop("worker", timeout=20)

    def manage(self, *argv: str) -> str:
        return _run([PY, "manage.py", *argv], env=self.env, timeout=600).stdout

    # -- API helpers

    def api(self):
        session = http_session()
        session.headers["Authorization"] = f"Bearer {self.api_key}"
        return session

    def create_body(self) -> dict:
        return {**CREATE_BODY, "webhook_url": f"{self.receiver_url}/hooks/kyc"}

    def create_sessions(self, count: int, *, parallel: int = 8) -> list[str]:
        """Create sessions through the API (bounded, parallel)."""
        local = threading.local()
        body = self.create_body()

        def one(_):
            if not hasattr(local, "s"):
                local.s = self.api()
            response = local.s.post(f"{self.web_url}/api/v1/kyc/sessions", json=body, timeout=30)
            if response.status_code != 201:
                raise SystemExit(f"create failed: HTTP {response.status_code} {response.text[:300]}")
            return response.json()["id"]

        with ThreadPoolExecutor(parallel) as pool:
            return list(pool.map(one, range(count)))

    def db(self):
        import psycopg

        return psycopg.connect(self.args.database_url, autocommit=True)

    def pending_sessions(self, count: int) -> list[tuple[str, str]]:
        """`count` pending sessions (id, onboarding_id) not used by an earlier phase,
        created through the API when the earlier phases did not leave enough."""
        with self.db() as conn:
            rows = conn.execute(
                "SELECT id::text, onboarding_id FROM kyc_kycsession WHERE status = 'pending' AND onboarding_id <> '' "
                "AND webhook_url LIKE %s ORDER BY created_at",
                (f"{self.receiver_url}/%",),
            ).fetchall()
        rows = [row for row in rows if row[0] not in self.used_sessions]
        if len(rows) < count:
            missing = count - len(rows)
            log(f"creating {missing} more sessions through the API")
            ids = set(self.create_sessions(missing))
            with self.db() as conn:
                extra = conn.execute(
                    "SELECT id::text, onboarding_id FROM kyc_kycsession WHERE id::text = ANY(%s)", (list(ids),)
                ).fetchall()
            rows += extra
        chosen = rows[:count]
        self.used_sessions.update(row[0] for row in chosen)
        return chosen

    def complete(self, session, onboarding_id: str, outcome: str = "approved"):
        return session.post(
            f"{self.sandbox_url}/sandbox/innovatif/onboarding/{onboarding_id}/complete",
            json={"outcome": outcome, "callbacks": 1, "send_callback": True},
            timeout=60,
        )

    def receiver(self, path: str, body: dict | None = None) -> dict:
        session = http_session()
        if body is None:
            return session.get(f"{self.receiver_url}{path}", timeout=30).json()
        return session.post(f"{self.receiver_url}{path}", json=body, timeout=30).json()

    # -- phases

    def setup(self) -> None:
        a = self.args
        ensure_postgres_and_redis(a.database_url, a.redis_url)
        self.wrk = ensure_wrk()
        log(f"resetting database {urlsplit(a.database_url).path.lstrip('/')} and Redis {a.redis_url}")
        reset_database(a.database_url)
        flush_redis(a.redis_url)
        log("migrate + collectstatic")
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("collectstatic", "--noinput", "-v", "0")
        seed = json.loads(_run([PY, "-m", "bench.seed"], env=self.env).stdout.strip().splitlines()[-1])
        self.api_key, self.webhook_secret = seed["api_key"], seed["webhook_secret"]
        self.results["machine"] = machine_description(a.database_url, a.redis_url, self.wrk)
        self.results["config"] = self.config()

        log("starting receiver, sandbox, web, worker")
        receiver_env = {
            **self.env,
            "BENCH_RECEIVER_API_KEY": self.api_key,
            "BENCH_RECEIVER_SECRET": self.webhook_secret,
        }
        self.children.start("receiver", [PY, "-m", "bench.receiver", "--port", str(a.port_base + 3)], receiver_env)
        self.start_sandbox(0)
        self.children.start("web", self.web_cmd(), self.env)
        wait_http(f"{self.receiver_url}/_stats", timeout=30, children=self.children, name="receiver")
        wait_http(f"{self.web_url}/healthz", timeout=60, children=self.children, name="web")
        self.start_worker()

        # Fixtures: one completed session (GET and finalized refresh).
        api = self.api()
        created = api.post(f"{self.web_url}/api/v1/kyc/sessions", json=self.create_body(), timeout=30)
        if created.status_code != 201:
            raise SystemExit(f"fixture create failed: HTTP {created.status_code} {created.text[:500]}")
        self.session_id = created.json()["id"]
        self.used_sessions.add(self.session_id)
        onboarding_id = created.json()["onboarding_url"].rstrip("/").rsplit("/", 1)[-1]
        answer = self.complete(http_session(), onboarding_id)
        if answer.status_code != 200:
            raise SystemExit(f"fixture complete failed: HTTP {answer.status_code} {answer.text[:500]}")
        status = api.get(f"{self.web_url}/api/v1/kyc/sessions/{self.session_id}", timeout=30).json().get("status")
        if status != "completed":
            raise SystemExit(f"fixture session is {status!r} after the provider callback, expected completed")

    def config(self) -> dict:
        a = self.args
        return {
            "web": " ".join(self.web_cmd()[2:]),
            "sandbox": f"gunicorn gthread --workers {a.sandbox_workers} --threads {a.sandbox_threads}",
            "worker": " ".join(self.worker_cmd()[2:]),
            "wrk": f"wrk -t{a.wrk_threads} -c{a.connections} -d{a.duration}s --timeout 10s",
            "repeat": a.repeat,
            "settings": "truestack.settings.production (DEBUG off, PostgreSQL, Redis, CONN_MAX_AGE=60, "
            f"LOG_LEVEL={a.log_level}, access log to a file)",
        }

    def targets(self) -> dict:
        url = self.web_url
        body = json.dumps(self.create_body())
        return {
            "floor_get": (
                "floor GET (key lookup + 1 indexed read)",
                "GET",
                f"{url}/api/bench/floor/{self.session_id}",
                "",
            ),
            "get": ("GET /api/v1/kyc/sessions/:id", "GET", f"{url}/api/v1/kyc/sessions/{self.session_id}", ""),
            "refresh_final": (
                "POST /api/v1/kyc/sessions/:id (finalized)",
                "POST",
                f"{url}/api/v1/kyc/sessions/{self.session_id}",
                "",
            ),
            "floor_post": ("floor POST (key lookup + 1 insert)", "POST", f"{url}/api/bench/floor", body),
            "create": ("POST /api/v1/kyc/sessions", "POST", f"{url}/api/v1/kyc/sessions", body),
        }

    def wrk_measured(self, key: str, *, duration: float, connections: int, threads: int) -> dict:
        """A measured run: after a (bounded) wait for a quiet machine, and run
        again when other jobs took more than --noise-cores meanwhile."""
        a = self.args
        attempts = []
        for _ in range(1 + a.noisy_retries):
            busy, waited = wait_for_quiet(max_wait=a.quiet_wait, threshold_cores=a.quiet_cores)
            run = self.wrk_run(key, duration=duration, connections=connections, threads=threads)
            run["busy_before"], run["quiet_wait_s"] = busy, waited
            noise = run["cpu_cores"]["other"] + run["cpu_cores"].get("pg_exited", 0)
            run["noise_cores"] = round(noise, 2)
            run["noisy"] = noise > a.noise_cores
            attempts.append(run)
            if not run["noisy"]:
                break
        best = min(attempts, key=lambda r: r["noise_cores"])
        best["discarded_noisy_attempts"] = [
            {"rps": r["rps"], "p99_ms": r["p99_ms"], "noise_cores": r["noise_cores"]} for r in attempts if r is not best
        ]
        return best

    def wrk_run(self, key: str, *, duration: float, connections: int, threads: int) -> dict:
        label, method, url, body = self.targets()[key]
        self.children.check_alive(*self.alive_groups)
        with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
            out = Path(tmp) / "out.json"
            env = {
                **os.environ,
                "BENCH_METHOD": method,
                "BENCH_TOKEN": self.api_key,
                "BENCH_BODY": body,
                "BENCH_OUT": str(out),
            }
            cmd = [
                self.wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration:g}s",
                "--timeout",
                "10s",
                "-s",
                str(WRK_SCRIPT),
                url,
            ]
            meter = CpuMeter(self.children, self.cpu_groups, self.args.database_url)
            sampler = LockWaitSampler(self.args.database_url) if key.startswith("create") else None
            meter.start()
            if sampler:
                sampler.start()
            with open(Path(tmp) / "stdout", "wb") as stdout:
                proc = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=subprocess.STDOUT, cwd=ROOT)
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
            lock_waits = sampler.stop() if sampler else None
            cpu = meter.stop({"wrk": usage.ru_utime + usage.ru_stime})
            elapsed = meter.elapsed
            if proc.returncode != 0 or not out.exists():
                raise SystemExit(f"wrk failed ({proc.returncode}): {(Path(tmp) / 'stdout').read_text()[-2000:]}")
            summary = json.loads(out.read_text())
        seconds = summary["duration_us"] / 1e6
        errors = summary["errors"]
        lat = summary["latency_us"]
        return {
            "endpoint": key,
            "label": label,
            "command": f"wrk -t{threads} -c{connections} -d{duration:g}s --timeout 10s -s bench/wrk_request.lua "
            f"{urlsplit(url).path}",
            "sandbox_latency_ms": self.sandbox_latency,
            "requests": summary["requests"],
            "seconds": round(seconds, 2),
            "rps": round(summary["requests"] / seconds, 1),
            "p50_ms": round(lat["p50"] / 1000, 2),
            "p95_ms": round(lat["p95"] / 1000, 2),
            "p99_ms": round(lat["p99"] / 1000, 2),
            "max_ms": round(lat["max"] / 1000, 2),
            "errors": sum(errors.values()),
            "errors_detail": errors,
            "cpu_cores": cpu,
            # CPU seconds per 1,000 requests of each process group (cores x elapsed / requests).
            "cpu_s_per_1000": {
                group: round(cores * elapsed / max(1, summary["requests"]) * 1000, 3)
                for group, cores in cpu.items()
                if group not in ("machine_busy",)
            },
            "lock_waiting": lock_waits,
        }

    def run_endpoints(self) -> None:
        a = self.args
        runs = []
        log(f"warm-up ({', '.join(self.targets())})")
        for key in self.targets():
            self.wrk_run(key, duration=2, connections=4, threads=1)
        self.results["queries"] = self.measure_queries()
        order = ["floor_get", "get", "refresh_final", "floor_post", "create"]
        for rep in range(a.repeat):
            for key in order:
                run = self.wrk_measured(key, duration=a.duration, connections=a.connections, threads=a.wrk_threads)
                run["repeat"] = rep + 1
                runs.append(run)
                log(
                    f"{run['label']:<45} {run['rps']:>8.1f} req/s  p99 {run['p99_ms']:>7.1f} ms  "
                    f"errors {run['errors']}  wrk {run['cpu_cores']['wrk']} cores  web {run['cpu_cores']['web']}"
                    f"  other jobs {run['noise_cores']}"
                )
        # Uncontended create: one connection, so latency is service time, not queueing.
        run = self.wrk_measured("create", duration=max(3, a.duration / 2), connections=1, threads=1)
        run["endpoint"], run["label"] = "create_c1", "POST /api/v1/kyc/sessions (1 connection)"
        runs.append(run)
        log(f"{run['label']:<45} {run['rps']:>8.1f} req/s  p99 {run['p99_ms']:>7.1f} ms")
        merge_rss(self.rss, peak_rss(self.children, ("web", "worker", "sandbox")))
        if a.profile:
            self.profile_endpoints()

        for latency in [v for v in a.latency_ms if v != 0]:
            log(f"restarting the sandbox with {latency} ms added latency")
            self.start_sandbox(latency)
            self.wrk_run("create", duration=2, connections=4, threads=1)
            for rep in range(a.repeat):
                run = self.wrk_measured("create", duration=a.duration, connections=a.connections, threads=a.wrk_threads)
                run["endpoint"] = f"create_{latency}ms"
                run["label"] = f"POST /api/v1/kyc/sessions (sandbox +{latency} ms)"
                run["repeat"] = rep + 1
                runs.append(run)
                log(
                    f"{run['label']:<45} {run['rps']:>8.1f} req/s  p99 {run['p99_ms']:>7.1f} ms  errors {run['errors']}"
                )
            merge_rss(self.rss, peak_rss(self.children, ("web", "sandbox")))
        if self.sandbox_latency != 0:
            self.start_sandbox(0)
        self.results["runs"] = runs

    def profile_endpoints(self) -> None:
        """Extra, unmeasured wrk runs with py-spy attached to the web (and the
        sandbox for create); the measured figures above were taken without it."""
        profiler = Profiler(self.data_dir / "profiles")
        profiles = self.results.setdefault("profiles", {})
        seconds = max(5, min(15, self.args.duration))
        for key in ("floor_get", "get", "floor_post", "create"):
            log(f"profiling {key} for {seconds:g} s")
            running = profiler.start(
                key,
                {"web": self.children.pid("web"), "sandbox": self.children.pid("sandbox") if key == "create" else None},
                seconds + 1,
            )
            run = self.wrk_run(key, duration=seconds, connections=self.args.connections, threads=self.args.wrk_threads)
            profiles[key] = {"rps_while_profiled": run["rps"], **profiler.finish(running)}

    def measure_queries(self) -> dict:
        spec = {
            "api_key": self.api_key,
            "repeat": 5,
            "requests": [
                {"name": "floor_get", "method": "GET", "path": f"/api/bench/floor/{self.session_id}"},
                {"name": "get", "method": "GET", "path": f"/api/v1/kyc/sessions/{self.session_id}"},
                {"name": "refresh_final", "method": "POST", "path": f"/api/v1/kyc/sessions/{self.session_id}"},
                {"name": "floor_post", "method": "POST", "path": "/api/bench/floor", "body": self.create_body()},
                {"name": "create", "method": "POST", "path": "/api/v1/kyc/sessions", "body": self.create_body()},
            ],
        }
        out = _run([PY, "-m", "bench.queries", json.dumps(spec)], env=self.env, timeout=300)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def warm_callbacks(self, sessions: list[tuple[str, str]]) -> None:
        """Unmeasured callbacks first, so every web process and thread has done one
        (imports, connections) before the measured run, as in a service that is up."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda item: self.complete(http_session(), item[1]), sessions))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.receiver("/_stats")["distinct"] < len(sessions):
            time.sleep(0.2)

    def run_end_to_end(self) -> None:
        a = self.args
        total = int(a.e2e_rate * a.e2e_seconds)
        log(f"end to end: {total} provider callbacks at {a.e2e_rate:g}/s")
        sessions = self.pending_sessions(total + E2E_WARMUP_CALLBACKS)
        warmup, sessions = sessions[:E2E_WARMUP_CALLBACKS], sessions[E2E_WARMUP_CALLBACKS:]
        self.receiver("/_config", {"delay_ms": 0})
        # The scheduler too, as in production: its sweep queues the deliveries a busy
        # client's cap put back for later (WEBHOOK_CLIENT_BUSY_DELAY_SECONDS).
        beat_schedule = self.data_dir / "celerybeat-schedule"
        self.children.start(
            "beat",
            [PY, "-m", "celery", "-A", "truestack", "beat", "-l", "INFO", "--schedule", str(beat_schedule)],
            self.env,
        )
        self.warm_callbacks(warmup)
        self.receiver("/_reset", {})
        fired: dict[str, float] = {}
        failures: list[str] = []
        complete_ms: list[float] = []
        lags: list[float] = []
        lock = threading.Lock()
        counter = iter(range(total))
        start = time.time() + 0.5

        def pace():
            session = http_session()
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                due = start + index / a.e2e_rate
                pause = due - time.time()
                if pause > 0:
                    time.sleep(pause)
                session_id, onboarding_id = sessions[index]
                t0 = time.time()
                try:
                    response = self.complete(session, onboarding_id)
                    ok = response.status_code == 200
                    detail = "" if ok else f"HTTP {response.status_code} {response.text[:200]}"
                except Exception as exc:  # noqa: BLE001 - counted as lost
                    ok, detail = False, repr(exc)[:200]
                t1 = time.time()
                with lock:
                    fired[session_id] = t0
                    lags.append(t0 - due)
                    complete_ms.append((t1 - t0) * 1000)
                    if not ok:
                        failures.append(detail)

        running = []
        if a.profile:
            profiler = Profiler(self.data_dir / "profiles")
            running = profiler.start(
                "end_to_end",
                {name: self.children.pid(name) for name in ("web", "sandbox", "worker")},
                a.e2e_seconds + 2,
            )
        meter = CpuMeter(self.children, ("web", "sandbox", "worker", "receiver"), self.args.database_url)
        meter.start()
        # Open loop: enough threads that slow answers (the system falling behind)
        # never hold back the next firing, up to a bound.
        n_threads = a.e2e_threads or int(max(64, min(600, a.e2e_rate * 10)))
        threads = [threading.Thread(target=pace, daemon=True) for _ in range(n_threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=a.e2e_seconds + 120)
        deadline = time.monotonic() + a.e2e_wait
        while time.monotonic() < deadline:
            if self.receiver("/_stats")["distinct"] >= total:
                break
            time.sleep(0.2)
        cpu = meter.stop()
        e2e_elapsed = meter.elapsed
        self.children.stop("beat", timeout=10)
        if running:
            self.results.setdefault("profiles", {})["end_to_end"] = profiler.finish(running)
        received = self.receiver("/_arrivals")
        arrivals = received.pop("arrivals")
        delays = [(arrivals[sid][0] - t) * 1000 for sid, t in fired.items() if sid in arrivals]
        # p99 per 5 s of firing, to tell a start-up stall from falling behind.
        first_fired = min(fired.values(), default=0.0)
        slices: dict[int, list[float]] = {}
        for sid, t in fired.items():
            if sid in arrivals:
                slices.setdefault(int((t - first_fired) // 5), []).append((arrivals[sid][0] - t) * 1000)
        result = {
            "rate_per_s": a.e2e_rate,
            "seconds": a.e2e_seconds,
            "fired": len(fired),
            # Over the firing span (first to last firing), not including the wait for answers.
            "achieved_rate_per_s": round((len(fired) - 1) / max(1e-9, max(fired.values()) - min(fired.values())), 1)
            if len(fired) > 1
            else 0.0,
            "pacer_threads": n_threads,
            "pacer_lag_max_ms": round(max(lags, default=0) * 1000, 1),
            "complete_failures": len(failures),
            "complete_failure_examples": failures[:5],
            "callback_roundtrip_p50_ms": round(percentile(complete_ms, 50) or 0, 1),
            "callback_roundtrip_p99_ms": round(percentile(complete_ms, 99) or 0, 1),
            "arrived": len(delays),
            "lost": total - len(delays),
            "p50_ms": round(percentile(delays, 50) or 0, 1),
            "p95_ms": round(percentile(delays, 95) or 0, 1),
            "p99_ms": round(percentile(delays, 99) or 0, 1),
            "max_ms": round(max(delays, default=0), 1),
            "p99_ms_by_5s_of_firing": [round(percentile(slices[k], 99) or 0, 1) for k in sorted(slices)],
            "receiver": received,
            "cpu_cores": cpu,
            # CPU milliseconds per callback fired, per process group.
            "cpu_ms_per_callback": {
                group: round(cores * e2e_elapsed / max(1, len(fired)) * 1000, 2)
                for group, cores in cpu.items()
                if group not in ("machine_busy",)
            },
        }
        self.results.setdefault("end_to_end", []).append(result)
        log(
            f"end to end: arrived {result['arrived']}/{total}  p50 {result['p50_ms']} ms  p95 {result['p95_ms']} ms  "
            f"p99 {result['p99_ms']} ms  (callback round trip p99 {result['callback_roundtrip_p99_ms']} ms; "
            f"p99 by 5 s of firing: {result['p99_ms_by_5s_of_firing']})"
        )

    def run_backlog(self) -> None:
        a = self.args
        total = a.backlog
        log(f"backlog: stopping the worker, completing {total} sessions, receiver at {a.backlog_delay_ms} ms/request")
        self.stop_worker()
        sessions = self.pending_sessions(total)
        self.receiver("/_reset", {})
        self.receiver("/_config", {"delay_ms": a.backlog_delay_ms})
        local = threading.local()

        def finish(item):
            if not hasattr(local, "s"):
                local.s = http_session()
            response = self.complete(local.s, item[1])
            return response.status_code == 200

        with ThreadPoolExecutor(8) as pool:
            completed = sum(pool.map(finish, sessions))
        with self.db() as conn:
            due = conn.execute(
                "SELECT count(*) FROM webhooks_delivery d JOIN webhooks_event e ON e.id = d.event_id "
                "WHERE d.state IN ('pending', 'retrying') AND e.session_id::text = ANY(%s)",
                ([s[0] for s in sessions],),
            ).fetchone()[0]
        early = self.receiver("/_stats")["received"]
        log(f"backlog: {due} due deliveries queued ({completed} callbacks applied); starting the worker")
        meter = CpuMeter(self.children, ("web", "worker", "receiver"), self.args.database_url)
        meter.start()
        started = self.start_worker()
        deadline = time.monotonic() + a.backlog_timeout
        while time.monotonic() < deadline:
            self.children.check_alive("worker")
            if self.receiver("/_stats")["answered"] >= due:
                break
            time.sleep(0.2)
        cpu = meter.stop()
        received = self.receiver("/_arrivals")
        arrivals = received.pop("arrivals")
        answered = [times[1] for times in arrivals.values() if times[1] is not None]
        first = min((times[0] for times in arrivals.values()), default=None)
        result = {
            "deliveries": due,
            "completed_callbacks": completed,
            "delivered_before_worker_start": early,
            "receiver_delay_ms": a.backlog_delay_ms,
            "worker_concurrency": a.worker_concurrency,
            "delivered": len(answered),
            "drain_s_from_worker_start": round(max(answered) - started, 2) if answered else None,
            "drain_s_from_first_delivery": round(max(answered) - first, 2) if answered else None,
            "worker_startup_s": round(first - started, 2) if first else None,
            "theoretical_min_s": round(due * a.backlog_delay_ms / 1000 / a.worker_concurrency, 2),
            "receiver": received,
            "cpu_cores": cpu,
        }
        self.results["backlog"] = result
        self.receiver("/_config", {"delay_ms": 0})
        merge_rss(self.rss, peak_rss(self.children, ("worker",)))
        log(
            f"backlog: {result['delivered']}/{due} delivered, drained in {result['drain_s_from_worker_start']} s "
            f"from worker start ({result['drain_s_from_first_delivery']} s from the first delivery)"
        )

    def serve(self, seconds: float) -> None:
        """Set up and keep the stack running (for profiling by hand), bounded; the
        sandbox runs with the largest --latency-ms."""
        self.setup()
        if max(self.args.latency_ms) != self.sandbox_latency:
            self.start_sandbox(max(self.args.latency_ms))
        info = {
            "web": self.web_url,
            "sandbox": self.sandbox_url,
            "receiver": self.receiver_url,
            "api_key": self.api_key,
            "session_id": self.session_id,
            "pids": {name: self.children.pid(name) for name in ("web", "sandbox", "worker", "receiver")},
            "env": {
                k: v
                for k, v in self.env.items()
                if k
                in (
                    "DJANGO_SETTINGS_MODULE",
                    "SECRET_KEY",
                    "FIELD_ENCRYPTION_KEYS",
                    "DATABASE_URL",
                    "REDIS_URL",
                    "DATA_DIR",
                    "ALLOWED_HOSTS",
                    "PUBLIC_BASE_URL",
                    "INNOVATIF_BASE_URL",
                    "SANDBOX_BASE_URL",
                    "WEBHOOK_ALLOW_PRIVATE_TARGETS",
                    "BENCH_FLOOR_ENABLED",
                    "SECURE_COOKIES",
                )
            },
        }
        path = self.data_dir / "serve.json"
        path.write_text(json.dumps(info, indent=2))
        path.chmod(0o600)
        log(f"serving for {seconds:g} s; URLs, key and pids in {path} (Ctrl-C stops)")
        # Children may be stopped and replaced by hand meanwhile (experiments).
        time.sleep(max(0.0, seconds))

    def run(self) -> dict:
        a = self.args
        self.setup()
        self.run_endpoints()
        if a.e2e_seconds > 0:
            self.run_end_to_end()
        merge_rss(self.rss, peak_rss(self.children, ("web", "worker", "sandbox", "receiver")))
        if a.backlog > 0:
            self.run_backlog()
        merge_rss(self.rss, peak_rss(self.children, ("web", "worker", "sandbox", "receiver")))
        self.results["peak_rss"] = self.rss
        self.results["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        summarize(self.results, a)
        return self.results


# --- machine description ------------------------------------------------------------------


def machine_description(database_url: str, redis_url: str, wrk: str) -> dict:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        mem_kb = int(
            next(
                line.split()[1]
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal:")
            )
        )
    except (OSError, StopIteration):
        pass
    description = {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": list(os.getloadavg()),
    }
    try:
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as conn:
            description["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:  # noqa: BLE001 - description only
        description["postgresql"] = f"unknown ({exc.__class__.__name__})"
    redis = urlsplit(redis_url)
    info = (
        _run(
            ["redis-cli", "-h", redis.hostname or "127.0.0.1", "-p", str(redis.port or 6379), "INFO", "server"],
            check=False,
        ).stdout
        or ""
    )
    description["redis"] = next(
        (line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("redis_version:")), "unknown"
    )
    description["wrk"] = (_run([wrk, "--version"], check=False).stdout or "").splitlines()[0:1]
    try:
        import celery
        import django
        import gunicorn

        description.update(django=django.get_version(), gunicorn=gunicorn.__version__, celery=celery.__version__)
    except ImportError:
        pass
    return description


# --- summary ---------------------------------------------------------------------------------


def _group(runs: list[dict], endpoint: str) -> dict | None:
    every = [run for run in runs if run["endpoint"] == endpoint]
    if not every:
        return None
    # Runs disturbed by other jobs count only when no clean run exists.
    chosen = [run for run in every if not run.get("noisy")] or every
    return {
        "label": chosen[0]["label"],
        "sandbox_latency_ms": chosen[0]["sandbox_latency_ms"],
        "rps": median([r["rps"] for r in chosen]),
        "rps_runs": [r["rps"] for r in every],
        "p50_ms": median([r["p50_ms"] for r in chosen]),
        "p95_ms": median([r["p95_ms"] for r in chosen]),
        "p99_ms": median([r["p99_ms"] for r in chosen]),
        "p99_runs": [r["p99_ms"] for r in chosen],
        "errors": sum(r["errors"] for r in chosen),
        "wrk_cores": median([r["cpu_cores"]["wrk"] for r in chosen]),
        "web_cores": median([r["cpu_cores"]["web"] for r in chosen]),
        "sandbox_cores": median([r["cpu_cores"]["sandbox"] for r in chosen]),
        "postgres_cores": median([r["cpu_cores"]["postgres"] for r in chosen]),
        "noise_cores": median([r.get("noise_cores", r["cpu_cores"]["other"]) for r in chosen]),
        "noisy_runs": sum(1 for r in every if r.get("noisy")),
    }


def summarize(results: dict, args) -> None:
    runs = results.get("runs", [])
    queries = results.get("queries", {})
    floors = {"get": "floor_get", "refresh_final": "floor_get", "create": "floor_post"}
    summary = {}
    for endpoint in [
        "floor_get",
        "get",
        "refresh_final",
        "floor_post",
        "create",
        "create_c1",
        *[f"create_{v}ms" for v in args.latency_ms if v != 0],
    ]:
        group = _group(runs, endpoint)
        if group is None:
            continue
        base = endpoint.split("_")[0] if endpoint.startswith("create") else endpoint
        if base in queries:
            group["queries"] = queries[base]["queries"]
            group["round_trips"] = queries[base]["round_trips"]
        if endpoint in floors:
            # Ratio per repeat (floor and endpoint measured minutes apart in the
            # same round), then the median: steadier than a ratio of medians when
            # the machine's speed drifts.
            own = {r["repeat"]: r["rps"] for r in runs if r["endpoint"] == endpoint}
            base = {r["repeat"]: r["rps"] for r in runs if r["endpoint"] == floors[endpoint]}
            ratios = [round(own[k] / base[k], 3) for k in sorted(own) if base.get(k)]
            if ratios:
                group["vs_floor_runs"] = ratios
                group["vs_floor"] = round(median(ratios), 3)
        summary[endpoint] = group
    results["summary"] = summary

    checks = {}
    if "get" in summary and "vs_floor" in summary["get"]:
        checks["GET >= 80% of floor"] = (
            summary["get"]["vs_floor"],
            summary["get"]["vs_floor"] >= TARGETS["get_vs_floor"],
        )
    if "create" in summary and "vs_floor" in summary["create"]:
        checks["create (0 ms) >= 60% of floor"] = (
            summary["create"]["vs_floor"],
            summary["create"]["vs_floor"] >= TARGETS["create_vs_floor"],
        )
    for latency in args.latency_ms:
        key = "create" if latency == 0 else f"create_{latency}ms"
        if key in summary and latency != 0:
            overhead = round(summary[key]["p99_ms"] - latency, 1)
            summary[key]["overhead_p99_ms"] = overhead
            checks[f"create overhead p99 (sandbox {latency} ms) <= 25 ms"] = (
                overhead,
                overhead <= TARGETS["create_overhead_p99_ms"],
            )
    e2e = results.get("end_to_end")
    if e2e:
        last = e2e[-1]
        checks[f"callback -> webhook p99 <= 1 s at {last['rate_per_s']:g}/s"] = (
            last["p99_ms"],
            last["p99_ms"] <= TARGETS["e2e_p99_ms"] and last["arrived"] > 0,
        )
        checks["nothing lost"] = (last["lost"], last["lost"] == 0 and last["complete_failures"] == 0)
    backlog = results.get("backlog")
    if backlog:
        drained = backlog["drain_s_from_worker_start"]
        checks[f"{backlog['deliveries']} deliveries drain <= 60 s"] = (
            drained,
            drained is not None
            and backlog["delivered"] >= backlog["deliveries"]
            and drained <= TARGETS["backlog_drain_s"],
        )
    if "get" in summary:
        checks["GET beats reference 600/s"] = (summary["get"]["rps"], summary["get"]["rps"] > REFERENCE["get_rps"])
    if "create" in summary:
        checks["create beats reference 270/s"] = (
            summary["create"]["rps"],
            summary["create"]["rps"] > REFERENCE["create_rps"],
        )
    results["targets"] = {name: {"value": value, "met": met} for name, (value, met) in checks.items()}
    results["reference"] = REFERENCE


def print_table(results: dict) -> None:
    machine = results.get("machine", {})
    config = results.get("config", {})
    print()
    print(
        f"TrueStack benchmark {results.get('started_at')} — {machine.get('nproc')} cores {machine.get('cpu_model')}, "
        f"{machine.get('ram_gib')} GiB, PostgreSQL {machine.get('postgresql')}, Redis {machine.get('redis')}"
    )
    print(f"web: {config.get('web')}")
    print(f"load: {config.get('wrk')}, {config.get('repeat')} run(s) each, median shown (runs in brackets)")
    header = (
        f"{'endpoint':<46}{'sandbox':>8}{'req/s':>9}  {'runs':<16}{'p50':>7}{'p95':>8}{'p99':>8}{'err':>5}"
        f"{'q/rt':>7}{'floor%':>7}{'wrk':>6}{'web':>6}{'sbx':>6}{'pg':>6}{'oth':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in results.get("summary", {}).values():
        runs = ",".join(f"{v:.0f}" for v in row["rps_runs"]) + ("*" if row.get("noisy_runs") else "")
        qrt = f"{row['queries']}/{row['round_trips']}" if "queries" in row else "-"
        ratio = f"{row['vs_floor'] * 100:.0f}%" if "vs_floor" in row else "-"
        print(
            f"{row['label'][:45]:<46}{str(row['sandbox_latency_ms']) + 'ms':>8}{row['rps']:>9.1f}  {runs:<16}"
            f"{row['p50_ms']:>7.1f}{row['p95_ms']:>8.1f}{row['p99_ms']:>8.1f}{row['errors']:>5}{qrt:>7}{ratio:>7}"
            f"{row['wrk_cores']:>6.2f}{row['web_cores']:>6.2f}{row['sandbox_cores']:>6.2f}"
            f"{row['postgres_cores']:>6.2f}{row['noise_cores']:>6.2f}"
        )
    print(
        "(latency in ms; q/rt = SQL statements / PostgreSQL round trips per request incl. BEGIN/COMMIT and the "
        "connection health check; CPU columns in cores: wrk, web, sandbox, postgres, other jobs on the machine; "
        "* = a run disturbed by other jobs)"
    )
    for e2e in results.get("end_to_end", []):
        print(
            f"end to end: {e2e['fired']} callbacks at {e2e['rate_per_s']:g}/s (achieved {e2e['achieved_rate_per_s']}/s)"
            f" -> signed webhook at the receiver: arrived {e2e['arrived']}/{e2e['fired']}, p50 {e2e['p50_ms']} ms, "
            f"p95 {e2e['p95_ms']} ms, p99 {e2e['p99_ms']} ms, max {e2e['max_ms']} ms; invalid signatures "
            f"{e2e['receiver']['invalid']}, duplicates {e2e['receiver']['duplicates']}; harness CPU "
            f"{e2e['cpu_cores']['harness']} cores"
        )
    backlog = results.get("backlog")
    if backlog:
        print(
            f"backlog: {backlog['delivered']}/{backlog['deliveries']} due deliveries to a {backlog['receiver_delay_ms']} ms "
            f"receiver, worker -c {backlog['worker_concurrency']}: drained in {backlog['drain_s_from_worker_start']} s "
            f"from worker start ({backlog['drain_s_from_first_delivery']} s from first delivery, floor "
            f"{backlog['theoretical_min_s']} s)"
        )
    rss = results.get("peak_rss", {})
    if rss:
        parts = []
        for name, value in rss.items():
            parts.append(
                f"{name} {value['peak_total_mib']} MiB total / {value['peak_max_mib']} MiB largest process "
                f"({len(value['processes'])} processes)"
            )
        print("peak RSS: " + "; ".join(parts))
    for name, target in results.get("targets", {}).items():
        print(f"  [{'PASS' if target['met'] else 'MISS'}] {name}: {target['value']}")


# --- entry point ---------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.run", description="TrueStack benchmark harness")
    parser.add_argument("--quick", action="store_true", help="smoke run (about a minute, one repeat)")
    parser.add_argument(
        "--latency-ms", default="0,200", help="sandbox added latencies for create, comma separated (0 always runs)"
    )
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 20, quick 4)")
    parser.add_argument("--repeat", type=int, help="wrk runs per figure (default 2, quick 1)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--e2e-rate", type=float, help="provider callbacks per second (default 50, quick 20)")
    parser.add_argument("--e2e-seconds", type=float, help="seconds of callbacks (default 60, quick 10; 0 skips)")
    parser.add_argument(
        "--e2e-threads",
        type=int,
        default=0,
        help="pacer threads (default 10 x rate, 64..600): slow answers must not delay firings",
    )
    parser.add_argument("--e2e-wait", type=float, default=60, help="max seconds to wait for the last webhook")
    parser.add_argument("--backlog", type=int, help="due deliveries to drain (default 1000, quick 100; 0 skips)")
    parser.add_argument("--backlog-delay-ms", type=int, default=200)
    parser.add_argument("--backlog-timeout", type=float, default=300)
    parser.add_argument("--web-workers", type=int, default=int(os.environ.get("BENCH_WEB_WORKERS", 4)))
    parser.add_argument("--web-threads", type=int, default=int(os.environ.get("BENCH_WEB_THREADS", 8)))
    parser.add_argument("--web-worker-class", default=os.environ.get("BENCH_WEB_WORKER_CLASS", "gthread"))
    parser.add_argument(
        "--web-server",
        choices=["gunicorn", "granian"],
        default="gunicorn",
        help="the web's server (granian: pip install granian; for comparisons)",
    )
    parser.add_argument("--sandbox-workers", type=int, default=2)
    parser.add_argument("--sandbox-threads", type=int, default=16)
    parser.add_argument("--worker-concurrency", type=int, default=16, help="Celery worker threads (-P threads -c N)")
    parser.add_argument(
        "--web-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra environment variable for every server (repeatable), e.g. DB_PREPARE_THRESHOLD=2",
    )
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the servers (production default INFO)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ts_bench"),
        help="PostgreSQL database for the run; it is DROPPED and recreated",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"),
        help="Redis database for the run; it is FLUSHED",
    )
    parser.add_argument("--data-dir", default=os.environ.get("BENCH_DATA_DIR", "/tmp/bench"))
    parser.add_argument(
        "--port-base",
        type=int,
        default=int(os.environ.get("BENCH_PORT_BASE", 27400)),  # below the ephemeral port range
        help="web +1, sandbox +2, receiver +3 (127.0.0.1 only)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        help="max seconds to wait before each measured run for the machine to be idle",
    )
    parser.add_argument("--quiet-cores", type=float, default=0.35, help="'idle' means at most this many busy cores")
    parser.add_argument(
        "--noise-cores",
        type=float,
        default=0.3,
        help="a run during which other jobs used more CPU than this is marked noisy",
    )
    parser.add_argument("--noisy-retries", type=int, default=1, help="extra attempts for a noisy run (best kept)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run py-spy on the servers (extra unmeasured runs; bench/requirements-bench.txt)",
    )
    parser.add_argument(
        "--serve",
        type=float,
        default=0,
        metavar="SECONDS",
        help="only set up and keep the stack running this long (for profiling by hand)",
    )
    parser.add_argument("--output", help="JSON file (default bench/results/<timestamp>.json)")
    parser.add_argument(
        "--reference",
        action="store_true",
        help="the reference comparison: GET and create against the independent provider mock (--mock), "
        "16 connections and 1, CPU per 1,000 requests, lock waiters; then callback -> webhook (sandbox)",
    )
    parser.add_argument(
        "--mock",
        default=str(ROOT / ".." / "shared" / "bench" / "mock_innovatif.py"),
        help="the provider mock for --reference (default ../shared/bench/mock_innovatif.py from the repository root)",
    )
    parser.add_argument(
        "--app-dir",
        default=str(ROOT),
        help="checkout whose code the servers run (default this one); e.g. a `git worktree` of an older commit",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.duration = args.duration or (4 if quick else 20)
    args.repeat = args.repeat or (1 if quick else 2)
    args.e2e_rate = args.e2e_rate or (20 if quick else 50)
    args.e2e_seconds = args.e2e_seconds if args.e2e_seconds is not None else (10 if quick else 60)
    args.backlog = args.backlog if args.backlog is not None else (100 if quick else 1000)
    args.latency_ms = sorted({0, *(int(v) for v in str(args.latency_ms).split(",") if v.strip())})
    args.mode = ("reference-quick" if quick else "reference") if args.reference else ("quick" if quick else "full")
    return args


def main(argv=None) -> int:
    global APP_ROOT
    args = parse_args(argv)
    os.chdir(ROOT)
    APP_ROOT = Path(args.app_dir).resolve()
    if not (APP_ROOT / "manage.py").exists():
        raise SystemExit(f"--app-dir {APP_ROOT} has no manage.py")
    if args.reference:
        from bench.reference import ReferenceHarness, print_reference  # bench.reference imports this module

        # Run as `python -m bench.run`, this file is __main__; bench.reference uses the
        # importable copy, whose APP_ROOT must be the same.
        sys.modules["bench.run"].APP_ROOT = APP_ROOT

        harness: Harness = ReferenceHarness(args)
    else:
        harness = Harness(args)
    atexit.register(harness.children.stop_all)

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    started = time.monotonic()
    if args.serve:
        try:
            harness.serve(args.serve)
        finally:
            harness.children.stop_all()
        return 0
    try:
        results = harness.run()
    finally:
        harness.children.stop_all()
    results["mode"] = args.mode
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    output = Path(args.output) if args.output else RESULTS_DIR / f"{stamp}-{args.mode}.json"
    text = json.dumps(results, indent=2, default=str)
    output.write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    if args.reference:
        print_reference(results)
    else:
        print_table(results)
    print(
        f"\nresults: {output} (and {RESULTS_DIR / 'latest.json'}); logs in {harness.log_dir}; "
        f"{results['wall_seconds']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
