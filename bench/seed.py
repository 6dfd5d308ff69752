"""Seed the benchmark database: one client with a large prepaid balance, raised
limits, and a live API key. Prints one JSON line for the harness:
{"client_id", "api_key", "webhook_secret"}.

Run with the same environment as the web process (production settings):
    python -m bench.seed [--code BENCH] [--credits 100000000]

Uses the real management commands (create_client, create_api_key), so the seed
goes through the same services an operator would use.
"""

from __future__ import annotations

import argparse
import io
import json
import os

# Limits raised for the run: the benchmark measures throughput, not the throttles.
RAISED_LIMIT = 1_000_000_000


def main(argv=None):
    parser = argparse.ArgumentParser(description="Seed the benchmark client and key.")
    parser.add_argument("--code", default="BENCH")
    parser.add_argument("--credits", type=int, default=100_000_000)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "truestack.settings.production")
    import django

    django.setup()
    from django.core.management import call_command

    from clients.models import Client
    from clients.services import client_webhook_secret

    if not Client.objects.filter(code=args.code).exists():
        call_command("create_client", args.code, name="Bench", credits=args.credits, stdout=io.StringIO())
    Client.objects.filter(code=args.code).update(rate_limit_per_minute=RAISED_LIMIT, max_open_sessions=RAISED_LIMIT)
    out = io.StringIO()
    call_command("create_api_key", args.code, environment="live", label="benchmark", stdout=out)
    client = Client.objects.get(code=args.code)
    print(
        json.dumps(
            {
                "client_id": str(client.id),
                "api_key": out.getvalue().strip(),
                "webhook_secret": client_webhook_secret(client=client),
            }
        )
    )


if __name__ == "__main__":
    main()
