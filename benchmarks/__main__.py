"""Runner: python -m benchmarks NAME [--quick] [--json]."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import time


def _available() -> list[str]:
    here = os.path.dirname(__file__)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if not m.name.startswith("_"))


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "kernel": platform.release(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("name", choices=_available())
    parser.add_argument("--quick", action="store_true", help="finish within 60 s")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    mod = importlib.import_module(f"benchmarks.{args.name}")
    started = time.monotonic()
    figures = mod.run(quick=args.quick)
    figures.setdefault("elapsed_s", round(time.monotonic() - started, 2))
    figures.setdefault("machine", machine())
    if args.json:
        json.dump(figures, sys.stdout, sort_keys=True)
        sys.stdout.write("\n")
    else:
        width = max(len(k) for k in figures)
        for key in sorted(figures):
            print(f"{key:<{width}}  {figures[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
