"""`make run`: the whole embedded default in the foreground.

Runs migrations and `seed_demo`, then starts web (gunicorn), a Celery worker and
Celery beat as child processes, streams their output with a prefix, waits for
/healthz and prints the demo login and keys. Ctrl-C or SIGTERM stops every child;
if one child dies, the others are stopped and the runner exits non-zero.

Web runs as ONE gunicorn process with threads: without REDIS_URL the cache is
in-process memory, which must be shared by every request."""

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_SECONDS = 10
HEALTH_TIMEOUT_SECONDS = 90

_print_lock = threading.Lock()


def say(line: str = "") -> None:
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def build_env() -> dict:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "truestack.settings.local")
    env["DATA_DIR"] = str(Path(env.get("DATA_DIR") or BASE_DIR / "var").resolve())
    env["PORT"] = str(int(env.get("PORT") or 3001))
    env.setdefault("PUBLIC_BASE_URL", f"http://localhost:{env['PORT']}")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def process_commands(env: dict) -> dict[str, list[str]]:
    py = sys.executable
    port = env["PORT"]
    return {
        "web": [
            py,
            "-m",
            "gunicorn",
            "truestack.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "8",
            "--worker-class",
            "gthread",
            "--access-logfile",
            "-",
            # The default control socket is one path per user: two runs would share it.
            "--no-control-socket",
        ],
        "worker": [
            py,
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
            "8",
            "--loglevel",
            "INFO",
        ],
        "beat": [
            py,
            "-m",
            "celery",
            "-A",
            "truestack",
            "beat",
            "--schedule",
            str(Path(env["DATA_DIR"]) / "celerybeat-schedule"),
            "--loglevel",
            "INFO",
        ],
    }


def _die_with_parent() -> None:
    # Linux: children get SIGTERM if the runner itself is killed (e.g. SIGKILL).
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start(name: str, command: list[str], env: dict) -> subprocess.Popen:
    # Own process group: the runner decides how children stop (a terminal's Ctrl-C
    # reaches only the runner), and gunicorn's worker is stopped with its master.
    # Working directory DATA_DIR: the embedded broker keeps its exchange tables in
    # a folder relative to it ("control"), which every process of one run must share
    # and two runs must not.
    child_env = dict(env)
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BASE_DIR), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        command,
        cwd=env["DATA_DIR"],
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def stream(name: str, proc: subprocess.Popen) -> threading.Thread:
    output = proc.stdout
    if output is None:
        raise ValueError(f"{name}: start the process with stdout=PIPE to stream it")

    def pump():
        for raw in iter(output.readline, b""):
            say(f"{name:<6}| {raw.decode(errors='replace').rstrip()}")
        output.close()

    thread = threading.Thread(target=pump, name=f"stream-{name}", daemon=True)
    thread.start()
    return thread


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"runner| {name} did not stop within {STOP_TIMEOUT_SECONDS}s; killing it")
        # Kill whatever is left in the group (e.g. a gunicorn worker whose master exited).
        _signal_group(proc, signal.SIGKILL)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            say(f"runner| {name} (pid {proc.pid}) is still running")


def manage(env: dict, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        check=False,
        stdout=subprocess.PIPE if capture else None,
        text=True,
    )


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def banner(env: dict, demo: dict) -> str:
    port = env["PORT"]
    base = env["PUBLIC_BASE_URL"].rstrip("/")
    body = json.dumps(
        {
            "document_name": "Ahmad bin Abdullah",
            "document_number": "901234-56-7890",
            "webhook_url": "http://localhost:8080/webhooks/kyc",
        }
    )
    rule = "=" * 72
    return "\n".join(
        [
            rule,
            f"TrueStack is running on port {port} (DATA_DIR={env['DATA_DIR']})",
            "",
            f"  Admin:      {base}/admin/",
            f"  Login:      {demo.get('username')} / {demo.get('password')}",
            f"  API docs:   {base}/api/docs/",
            f"  Client:     {demo.get('client_code')} (balance: {demo.get('balance')} credits)",
            f"  Live key:   {demo.get('live_key')}   (billed; here the provider is the built-in sandbox)",
            f"  Test key:   {demo.get('test_key')}   (never billed; always the built-in sandbox)",
            "",
            "  Create a KYC session (then open its onboarding_url in a browser and approve):",
            f"  curl -s -X POST {base}/api/v1/kyc/sessions \\",
            f'    -H "Authorization: Bearer {demo.get("live_key")}" \\',
            '    -H "Content-Type: application/json" \\',
            f"    -d '{body}'",
            "",
            "  Watch the signed webhooks arrive (another terminal):",
            f"  .venv/bin/python examples/webhook_receiver.py --port 8080 --api-key {demo.get('live_key')}",
            "  Ctrl-C stops web, worker and beat.",
            rule,
        ]
    )


def main() -> int:
    env = build_env()
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATA_DIR", "PORT", "PUBLIC_BASE_URL")})
    port = int(env["PORT"])
    for folder in ("", "static", "media"):
        (Path(env["DATA_DIR"]) / folder).mkdir(parents=True, exist_ok=True)
    if not port_free(port):
        say(f"runner| port {port} is already in use; set PORT to a free port")
        return 1

    say(f"runner| migrating ({env['DJANGO_SETTINGS_MODULE']}, DATA_DIR={env['DATA_DIR']})")
    if manage(env, "migrate", "--noinput").returncode != 0:
        say("runner| migrate failed")
        return 1
    seeded = manage(env, "seed_demo", capture=True)
    if seeded.returncode != 0:
        say("runner| seed_demo failed")
        return 1
    try:
        demo = json.loads(seeded.stdout)
    except ValueError:
        say("runner| seed_demo printed no JSON summary")
        return 1

    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    procs: dict[str, subprocess.Popen] = {}
    for name, command in process_commands(env).items():
        procs[name] = start(name, command, env)
    for name, proc in procs.items():
        stream(name, proc)
        say(f"runner| started {name} (pid {proc.pid})")

    exit_code = 0
    announced = False
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    while not stopping.is_set():
        dead = [(name, proc.returncode) for name, proc in procs.items() if proc.poll() is not None]
        if dead:
            for name, code in dead:
                say(f"runner| {name} exited with status {code}; stopping the others")
            exit_code = 1
            break
        if not announced:
            if healthy(port):
                announced = True
                say(banner(env, demo))
            elif time.monotonic() > deadline:
                say(f"runner| /healthz did not answer within {HEALTH_TIMEOUT_SECONDS}s; stopping")
                exit_code = 1
                break
        stopping.wait(0.5)

    say("runner| stopping web, worker and beat")
    stop_all(procs)
    say("runner| stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
