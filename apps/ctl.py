"""``midonet-agent-ctl``: ask a running agent what it believes.

    midonet-agent-ctl [--socket PATH] status|ports|topology|flows|counters
"""
from __future__ import annotations

import argparse
import json
import sys

from apps.control import request

DEFAULT_SOCKET = "/var/run/midonet-ryu/agent.sock"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="midonet-agent-ctl")
    parser.add_argument("--socket", default=DEFAULT_SOCKET)
    parser.add_argument("command", choices=["status", "ports", "topology", "flows", "counters"])
    args = parser.parse_args(argv)
    try:
        result = request(args.socket, args.command)
    except (OSError, RuntimeError) as e:
        print(f"midonet-agent-ctl: {e}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
