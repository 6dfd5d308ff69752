"""Database work per request, measured in-process on the benchmark database.

Each endpoint is called through Django's test client (the same URLconf,
middleware, DRF stack and services as under gunicorn, with the same production
settings and persistent connection) and two numbers are taken per request:

- `queries`: SQL statements Django issued (CaptureQueriesContext);
- `round_trips`: every message exchange with PostgreSQL, read from libpq's own
  protocol trace: the statements plus BEGIN/COMMIT/SAVEPOINT and the connection
  health check (`SELECT 1` at the first query of a request, CONN_HEALTH_CHECKS).

The test client skips the request_started/finished signals that gunicorn sends,
so they are sent here by hand around each request (close_old_connections), which
is what re-arms the health check in production.

    python -m bench.queries '<json spec>'
spec: {"api_key", "requests": [{"name", "method", "path", "body"}], "repeat": 5}
Prints one JSON object: {name: {"queries", "round_trips", "statements": [...]}}.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile

WARMUP = 2


def _statement_kind(text: str) -> str:
    text = text.strip().strip('"').lstrip()
    word = text.split(None, 1)[0].upper() if text else "?"
    if word in ("SELECT", "INSERT", "UPDATE", "DELETE"):
        match = re.search(r'(?:FROM|INTO|UPDATE)\s+"?([a-z_]+)"?', text, re.IGNORECASE)
        if word == "SELECT" and re.match(r"SELECT\s+1\b", text, re.IGNORECASE):
            return "SELECT 1"
        if word == "SELECT" and " FOR UPDATE" in text.upper():
            word = "SELECT FOR UPDATE"
        return f"{word} {match.group(1)}" if match else word
    return word


def _trace_summary(path: str) -> tuple[int, list[str]]:
    round_trips = 0
    statements = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            direction, message = parts[0], parts[2]
            if direction == "B" and message == "ReadyForQuery":
                round_trips += 1
            elif direction == "F" and message in ("Query", "Parse"):
                text = parts[3] if len(parts) > 3 else ""
                if message == "Parse":
                    # Parse: "" "<sql>" ...
                    found = re.match(r'\s*"[^"]*"\s+"(.*)', text)
                    text = found.group(1) if found else text
                statements.append(_statement_kind(text))
    return round_trips, statements


def main(argv=None):
    spec = json.loads((argv or sys.argv[1:])[0])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "truestack.settings.production")
    import django

    django.setup()
    from django.db import close_old_connections, connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from psycopg import pq

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {spec['api_key']}")
    repeat = int(spec.get("repeat", 5))
    report = {}
    for item in spec["requests"]:
        samples = []
        for index in range(WARMUP + repeat):
            close_old_connections()  # request_started, as under gunicorn
            connection.ensure_connection()
            pgconn = connection.connection.pgconn
            fd, path = tempfile.mkstemp(prefix="bench-trace-")
            try:
                pgconn.trace(fd)
                pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
                with CaptureQueriesContext(connection) as captured:
                    body = item.get("body")
                    response = client.generic(
                        item["method"],
                        item["path"],
                        data=json.dumps(body) if body is not None else "",
                        content_type="application/json",
                    )
                    close_old_connections()  # request_finished
                pgconn.untrace()
                round_trips, statements = _trace_summary(path)
            finally:
                # libpq flushed the stream on untrace; psycopg never closes it.
                os.close(fd)
                os.unlink(path)
            if response.status_code >= 400:
                raise SystemExit(f"{item['name']}: HTTP {response.status_code} {response.content[:300]!r}")
            if index >= WARMUP:
                samples.append(
                    {"queries": len(captured.captured_queries), "round_trips": round_trips, "statements": statements}
                )
        report[item["name"]] = {
            "queries": max(sample["queries"] for sample in samples),
            "queries_min": min(sample["queries"] for sample in samples),
            "round_trips": max(sample["round_trips"] for sample in samples),
            "round_trips_min": min(sample["round_trips"] for sample in samples),
            "statements": samples[-1]["statements"],
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
