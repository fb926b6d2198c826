"""`make bench`: speed and memory as ratios against baselines measured in the same run.

Each bench module exposes `run(report)`; `report(name, value, unit="", note="")` records one figure.
Benchmarks that need PostgreSQL read MEDIANEST_BENCH_DATABASE_URL (default: a `medianest_bench`
database on 127.0.0.1) and are skipped with a note when it is unreachable.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("MEDIANEST_INSTANCE_DIR", tempfile.mkdtemp(prefix="medianest-bench-"))
os.environ["MEDIANEST_SKIP_DOTENV"] = "1"
os.environ.setdefault("MEDIANEST_ENV", "testing")

RESULTS: list[tuple[str, str, float, str, str]] = []


def main() -> int:
    only = sys.argv[1:]
    package = Path(__file__).parent
    modules = sorted(m.name for m in pkgutil.iter_modules([str(package)]) if m.name.startswith("bench_"))
    failed = False
    for name in modules:
        if only and name not in only:
            continue
        module = importlib.import_module(f"tests.benchmarks.{name}")

        def report(metric, value, unit="", note="", _bench=name):
            RESULTS.append((_bench, metric, float(value), unit, note))
            print(f"  {metric:<48} {value:>12.3f} {unit:<8} {note}", flush=True)

        print(f"== {name}", flush=True)
        started = time.monotonic()
        try:
            module.run(report)
        except Exception:
            failed = True
            traceback.print_exc()
        print(f"   ({time.monotonic() - started:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
