"""This host's UUID: configured, or created once and kept in a file."""
from __future__ import annotations

import os
import uuid


def resolve_host_id(host_id: str | None, host_id_file: str) -> uuid.UUID:
    """``host_id`` when set; else the UUID in ``host_id_file``, created on
    first start so the identity survives restarts and reinstalls of the agent."""
    if host_id:
        try:
            return uuid.UUID(host_id)
        except ValueError:
            raise ValueError(f"[host] host_id {host_id!r} is not a UUID") from None
    try:
        with open(host_id_file) as f:
            text = f.read().strip()
        try:
            return uuid.UUID(text)
        except ValueError:
            raise ValueError(f"{host_id_file} does not hold a UUID: {text[:40]!r}") from None
    except FileNotFoundError:
        pass
    new = uuid.uuid4()
    os.makedirs(os.path.dirname(os.path.abspath(host_id_file)), exist_ok=True)
    tmp = f"{host_id_file}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{new}\n")
    os.replace(tmp, host_id_file)
    return new
