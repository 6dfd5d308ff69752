"""Entry point: python -m faults [--quick] [--only NAME] [--keep-logs]."""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from . import scenarios
from .peers import DrippingReceiver, HealthyReceiver, MockProvider
from .stack import PORTS, Stack


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m faults")
    parser.add_argument("--quick", action="store_true", help="the CI-sized subset")
    parser.add_argument("--only", help="run one scenario by function name")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    chosen = scenarios.QUICK if args.quick else scenarios.FULL
    if args.only:
        chosen = [s for s in scenarios.FULL if s.__name__ == args.only]

    started = time.monotonic()
    stack = Stack()
    peers = []
    failures = []
    harness = None
    try:
        print(f"starting the stack in {stack.tmp}", flush=True)
        stack.start_postgres()
        stack.start_redis()
        peers = [
            MockProvider(PORTS["provider"]),
            HealthyReceiver(PORTS["healthy"]),
            DrippingReceiver(PORTS["dripping"]),
        ]
        stack.start_app()
        stack.setup_clients()
        harness = scenarios.Harness(stack, *peers)
        harness.figure("stack", "started in (s)", time.monotonic() - started)
        for scenario in chosen:
            print(f"\n== {scenario.__name__}: {scenario.__doc__.strip().splitlines()[0]}", flush=True)
            began = time.monotonic()
            try:
                scenario(harness)
                harness.figure(scenario.__name__, "passed in (s)", time.monotonic() - began)
            except AssertionError as exc:
                failures.append(scenario.__name__)
                print(f"FAILED {scenario.__name__}: {exc}", flush=True)
                traceback.print_exc()
    finally:
        for peer in peers:
            peer.close()
        stack.stop(keep_logs=bool(failures) or args.keep_logs)

    if harness is not None:
        print("\n== figures")
        width = max(len(f"{s}: {n}") for s, n, _ in harness.figures)
        for scenario_name, figure_name, value in harness.figures:
            print(f"{scenario_name + ': ' + figure_name:<{width}}  {value}")
    print(f"\n{len(chosen) - len(failures)}/{len(chosen)} scenarios passed in {time.monotonic() - started:.0f}s")
    return 1 if failures or harness is None else 0


if __name__ == "__main__":
    sys.exit(main())
