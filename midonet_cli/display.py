"""How API objects become cliff rows.

Lists and objects are wrapped in :class:`Cell` so cliff's table and value
formatters print them compactly (``22:22``, ``a, b``) while its JSON and
YAML formatters get the raw JSON value back (``machine_readable``): a script
parsing ``-f json`` sees exactly what the API answered.

A list shows a few summary columns (``--long`` for all of them, as
OpenStack's client does) chosen from the resource's fields by one
preference order, so no resource needs its own column list.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cliff.columns import FormattableColumn

from midonet_ryu.api.resources import Resource

# Summary columns, in this order, when the resource has them (after "id").
PREFERRED = (
    "name", "tenantId", "type", "deviceType", "deviceId", "networkId", "routerId", "chainId",
    "loadBalancerId", "poolId", "address", "protocolPort", "subnetAddress", "serverAddress",
    "portAddress", "portSubnet", "portMac", "hostId", "interfaceName", "peerId",
    "dstNetworkAddr", "dstNetworkLength", "nextHopPort", "nextHopGateway", "nwProto", "tpDst",
    "jumpChainId", "limit", "alive", "adminStateUp", "enabled",
)
# A preferred column left out when the resource has the one that says the same
_IMPLIED_BY = {"networkId": "deviceId", "routerId": "deviceId"}


def human(value: Any) -> str:
    """A JSON value as one short line of text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        if set(value) == {"start", "end"}:
            return f"{value['start']}:{value['end']}"
        return ",".join(f"{k}={human(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        sep = "; " if any(isinstance(v, Mapping) for v in value) else ", "
        return sep.join(human(v) for v in value)
    return str(value)


class Cell(FormattableColumn[Any]):
    """A value cliff prints with :func:`human` and serialises as it is."""

    def human_readable(self) -> str:
        return human(self._value)


def cell(value: Any) -> Any:
    return value if isinstance(value, str | int | float) and not isinstance(value, bool) \
        else Cell(value)


def link_names(res: Resource) -> set[str]:
    return {link.name for link in res.links}


def all_columns(res: Resource) -> list[str]:
    """Every field of the representation but ``uri`` and links (URIs are for
    programs following them, not for people reading a table)."""
    links = link_names(res)
    return [name for name in res.schema(write=False)["properties"]
            if name != "uri" and name not in links]


def summary_columns(res: Resource) -> list[str]:
    present = set(all_columns(res))
    return ["id"] + [c for c in PREFERRED if c in present
                     and _IMPLIED_BY.get(c) not in present]


def shown(res: Resource | None, obj: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    """The columns and cells of one object: everything the API answered but
    ``uri`` and the links."""
    links = link_names(res) if res is not None else set()
    names = [k for k in obj if k != "uri" and k not in links]
    return names, [cell(obj[k]) for k in names]


def rows(objs: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> list[tuple[Any, ...]]:
    return [tuple(cell(o.get(c)) for c in columns) for o in objs]


def wants_more(requested: Sequence[str] | None, summary: Sequence[str]) -> bool:
    """True when ``-c`` names a column outside the summary (cliff matches
    column names case-insensitively, so this does too)."""
    have = {c.lower() for c in summary}
    return any(c.lower().strip() not in have for c in requested or ())
