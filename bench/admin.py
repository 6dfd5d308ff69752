"""Server-side timings of the operator portal on a large database.

Loads N sessions (default 100,000) with their holds, charges, webhook events,
deliveries and attempts into a PostgreSQL database of its own (dropped and
recreated; bulk_create, no HTTP), then times with Django's test client, in
process, the pages an operator opens most: the dashboard, the session list
(plain, searched by name, by IC number, by metadata value, date range), a
session's review page and a client's page. Prints the median time of
--repeat runs after one warm-up, and the number of queries of each.

    python -m bench.admin --database-url postgres://postgres@127.0.0.1:5432/ts_admin_bench [--sessions 100000]

Not part of CI: it takes a few minutes. Figures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

NAMES = ["Siti", "Ahmad", "Nur", "Lim", "Tan", "Muhammad", "Aisyah", "Raj", "Wong", "Farah", "Kumar", "Chong"]
SURNAMES = ["binti Kamal", "bin Abdullah", "Mei Ling", "Wei Jie", "a/l Subramaniam", "binti Hassan", "Ah Kow"]


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def load(sessions: int, clients: int) -> None:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone

    from billing.models import Hold, LedgerEntry
    from billing.services import credit_add
    from clients.services import api_key_create, client_create
    from kyc.models import KycSession, ProviderCallback
    from webhooks.models import Attempt, Delivery, Event

    User.objects.create_superuser("bench", "bench@truestack.example", "bench-pass")
    rng = random.Random(14)
    now = timezone.now()
    owners = []
    for n in range(clients):
        client = client_create(code=f"BENCH{n:02d}", name=f"Bench client {n}")
        credit_add(client=client, credits=10_000_000, description="bench opening balance")
        owners.append((client, api_key_create(client=client)[0]))

    batch = 5000
    made = 0
    started = time.monotonic()
    while made < sessions:
        rows, holds, entries, events, deliveries, attempts, callbacks = [], [], [], [], [], [], []
        for _ in range(min(batch, sessions - made)):
            made += 1
            client, key = owners[rng.randrange(len(owners))]
            created = now - timedelta(seconds=rng.randrange(60 * 24 * 3600))
            roll = rng.random()
            status, result = "completed", None
            if roll < 0.55:
                result = "approved"
            elif roll < 0.75:
                result = "rejected"
            elif roll < 0.9:
                status = "expired"
            elif roll < 0.97:
                status = "pending"
            else:
                status = "failed"
            number = f"{rng.randrange(500101, 991231):06d}-{rng.randrange(1, 16):02d}-{rng.randrange(10000):04d}"
            session = KycSession(
                id=uuid.uuid4(),
                client=client,
                api_key=key,
                ref_id=f"{client.code}_{made:08d}",
                provider_ref_id=f"P{made:010d}" if status != "failed" else "",
                onboarding_id=f"O{made:010d}" if status != "failed" else "",
                document_name=f"{rng.choice(NAMES)} {rng.choice(SURNAMES)}",
                document_number=number,
                webhook_url="https://receiver.example/hooks/kyc",
                metadata={"user_id": f"usr_{made}"},
                status=status,
                result=result,
                expires_at=created + timedelta(hours=24),
                completed_at=created + timedelta(minutes=5) if status == "completed" else None,
                provider_status={"completed": "2", "expired": "3"}.get(status, ""),
            )
            session.created_at = created
            rows.append(session)
            if status == "failed":
                continue
            hold_status = {"completed": "captured", "expired": "released"}.get(status, "open")
            holds.append(Hold(client=client, session=session, amount=50, status=hold_status))
            if status in ("completed", "expired"):
                callbacks.append(
                    ProviderCallback(
                        session=session,
                        body_sha256=uuid.uuid4().hex,
                        provider_status=session.provider_status,
                        state="processed",
                    )
                )
                event = Event(id=uuid.uuid4(), client=client, session=session, kind=f"kyc.session.{status}", body=b"{}")
                events.append(event)
                ok = rng.random() < 0.97
                delivery = Delivery(
                    id=uuid.uuid4(),
                    event=event,
                    url=session.webhook_url,
                    attempt_count=1 if ok else 3,
                    state="delivered" if ok else rng.choice(["retrying", "failed"]),
                    last_attempt_at=created + timedelta(minutes=5),
                )
                deliveries.append(delivery)
                attempts.append(
                    Attempt(
                        delivery=delivery,
                        number=1,
                        started_at=created + timedelta(minutes=5),
                        status_code=200 if ok else 500,
                        duration_ms=rng.randrange(20, 300),
                    )
                )
            if status == "completed":
                entries.append(
                    LedgerEntry(
                        client=client,
                        kind="usage",
                        amount=-50,
                        balance_after=0,
                        session=session,
                        tier_name="Default",
                        month_ordinal=1,
                    )
                )
        KycSession.objects.bulk_create(rows)
        # auto_now_add overwrote created_at: put the spread back.
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE kyc_kycsession SET created_at = %s WHERE id = %s", [(s.created_at, s.id) for s in rows]
            )
        Hold.objects.bulk_create(holds)
        ProviderCallback.objects.bulk_create(callbacks)
        Event.objects.bulk_create(events)
        Delivery.objects.bulk_create(deliveries)
        Attempt.objects.bulk_create(attempts)
        LedgerEntry.objects.bulk_create(entries)
        print(f"  loaded {made:>7} sessions ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def measure(repeat: int) -> list[tuple[str, float, int]]:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from clients.models import Client as ApiClient
    from kyc.models import KycSession

    browser = Client()
    assert browser.login(username="bench", password="bench-pass")
    session = KycSession.objects.filter(status="completed").order_by("-created_at").first()
    client = ApiClient.objects.order_by("code").first()
    today = time.strftime("%Y-%m-%d")
    pages = [
        ("dashboard", "/admin/"),
        ("session list", "/admin/kyc/kycsession/"),
        ("session list, search name 'siti'", "/admin/kyc/kycsession/?q=siti"),
        (
            "session list, search IC without dashes",
            f"/admin/kyc/kycsession/?q={session.document_number.replace('-', '')}",
        ),
        ("session list, search metadata value", "/admin/kyc/kycsession/?q=usr_4242"),
        (
            "session list, status + date range",
            f"/admin/kyc/kycsession/?status__exact=completed&created_at__range__gte=2000-01-01&created_at__range__lte={today}",
        ),
        ("session review page", f"/admin/kyc/kycsession/{session.pk}/change/"),
        ("client page", f"/admin/clients/client/{client.pk}/change/"),
    ]
    results = []
    for label, url in pages:
        samples, queries = [], 0
        for index in range(repeat + 1):
            reset_queries()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = browser.get(url)
                elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (url, response.status_code)
            if index:  # the first run warms caches
                samples.append(elapsed)
                queries = len(captured)
        results.append((label, statistics.median(samples), queries))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Time the operator portal's pages on a large database.")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ts_admin_bench"),
        help="PostgreSQL database to DROP and recreate",
    )
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="measure an already loaded database")
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgres"):
        parser.error("--database-url must be a PostgreSQL URL")

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "truestack.settings.test")
    os.environ.setdefault("DATA_DIR", "/tmp/bench-admin")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    if not args.reuse:
        recreate_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not args.reuse:
        print(f"loading {args.sessions} sessions for {args.clients} clients…", file=sys.stderr)
        load(args.sessions, args.clients)
    from kyc.models import KycSession

    print(
        f"\n{KycSession.objects.count()} sessions in {args.database_url.rsplit('/', 1)[-1]}; "
        f"median of {args.repeat} runs after one warm-up, Django test client, server side\n"
    )
    print(f"{'page':<42} {'ms':>8} {'queries':>8}")
    for label, ms, queries in measure(args.repeat):
        print(f"{label:<42} {ms:>8.1f} {queries:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
