"""Run every benchmark module in turn: ``python -m benchmarks [--quick] [--only NAME ...]``."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback

import benchmarks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small worlds, for a smoke test")
    parser.add_argument("--only", nargs="*", default=None, help="run only these benchmarks (e.g. match vvol)")
    args = parser.parse_args()
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only or n in args.only]
    failed = []
    for name in names:
        print(f"\n=== {name} {'(quick)' if args.quick else ''} ===", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"benchmarks.{name}").main(quick=args.quick)
        except Exception:  # report and go on with the other benchmarks
            traceback.print_exc()
            failed.append(name)
        print(f"--- {name}: {time.perf_counter() - started:.1f} s", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
