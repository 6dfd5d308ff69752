"""The fault suite: starts a production-like TrueStack stack on 127.0.0.1 with its
own PostgreSQL cluster and Redis on private ports, attacks it (database and Redis
restarts, kill -9 of every process kind, a dripping webhook receiver, a slow
provider, poison and oversized callbacks, a test key probing live data) and
asserts what must hold, printing figures at the end. See docs/operations.md.

    python -m faults            # every scenario (make faults)
    python -m faults --quick    # the CI-sized subset (make faults-quick, .ci/run)
"""
