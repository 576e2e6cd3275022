"""Intent-level OVSDB operations for the agent, over ovsdbapp.

One method per intent (ensure the integration bridge, ensure a tunnel
port, list the interfaces the agent may bind), each one transaction with
``may_exist`` semantics, so calling them again after a restart is harmless.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ovsdbapp.backend.ovs_idl import connection
from ovsdbapp.schema.open_vswitch import impl_idl

from midonet_ryu.datapath.local_ports import Interface
from midonet_ryu.datapath.port_map import TUNNEL_INTERFACE_TYPES

LOG = logging.getLogger(__name__)

TUNNEL_PORT_NAMES = TUNNEL_INTERFACE_TYPES  # one naming, shared with the port map
TUNNEL_KEY_ID = "midonet-tunnel-key"  # Interface external_ids: our key for a bound port
_TABLES = ("Open_vSwitch", "Bridge", "Port", "Interface", "Controller")


class _WatchingIdl(connection.OvsdbIdl):  # type: ignore[misc]
    """The IDL, telling ``interfaces_changed`` of every Interface row that
    comes, changes or goes: a tap that os-vif plugs is bound at once, not at
    the next periodic look at the bridge."""

    interfaces_changed: Callable[[], None] | None = None

    def notify(self, event: Any, row: Any, updates: Any = None) -> None:
        callback = self.interfaces_changed
        if callback is not None and getattr(getattr(row, "_table", None), "name",
                                            None) == "Interface":
            try:
                callback()
            except Exception:  # noqa: BLE001 - never break the IDL's loop
                LOG.exception("interface change callback failed")


class Ovsdb:
    """The agent's view of the local Open vSwitch database."""

    def __init__(self, endpoint: str, timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self._idl = _WatchingIdl.from_server(endpoint, "Open_vSwitch", helper_tables=_TABLES)
        self._conn = connection.Connection(idl=self._idl, timeout=timeout)
        self.api = impl_idl.OvsdbIdl(self._conn)

    def on_interfaces_changed(self, callback: Callable[[], None] | None) -> None:
        """``callback()`` (on the OVSDB connection's thread) when an interface
        is added, changed or removed."""
        self._idl.interfaces_changed = callback

    def ensure_integration_bridge(self, bridge: str, datapath_type: str,
                                  controller: str, rate_limit: int = 0,
                                  burst_limit: int = 0) -> None:
        """br-int: fail-mode secure (flows stay when the agent is down),
        OpenFlow 1.3 only, the agent as its only controller."""
        dp_type = None if datapath_type == "system" else datapath_type
        with self.api.transaction(check_error=True) as txn:
            txn.add(self.api.add_br(bridge, may_exist=True, datapath_type=dp_type))
            txn.add(self.api.db_set("Bridge", bridge, ("fail_mode", "secure"),
                                    ("protocols", ["OpenFlow13"])))
        targets = self.api.get_controller(bridge).execute(check_error=True) or []
        if targets != [controller]:
            self.api.set_controller(bridge, [controller]).execute(check_error=True)
        # OVS backs off up to 8 s between attempts by default; a restarted
        # agent should be found within a second.
        settings: list[tuple[str, Any]] = [("max_backoff", 1000), ("inactivity_probe", 5000)]
        if rate_limit:
            # the switch, not the agent, sheds a flood of new flows
            settings.append(("controller_rate_limit", max(100, rate_limit)))
            if burst_limit:
                settings.append(("controller_burst_limit", max(25, burst_limit)))
        self.api.db_set("Controller", self._controller_uuid(bridge), *settings).execute(
            check_error=True)

    def _controller_uuid(self, bridge: str) -> Any:
        refs = self.api.db_get("Bridge", bridge, "controller").execute(check_error=True)
        return refs[0] if isinstance(refs, list) else refs

    def ensure_tunnel_port(self, bridge: str, tunnel_type: str,
                           inherit_tos: bool = False) -> str:
        """A flow-based tunnel port: remote IP and key come from each flow
        (and with ``inherit_tos`` the outer TOS from the inner packet)."""
        name = TUNNEL_PORT_NAMES[tunnel_type]
        options = {"remote_ip": "flow", "key": "flow"}
        if inherit_tos:
            options["tos"] = "inherit"
        with self.api.transaction(check_error=True) as txn:
            txn.add(self.api.add_port(bridge, name, may_exist=True))
            txn.add(self.api.db_set("Interface", name, ("type", tunnel_type),
                                    ("options", options)))
            if not inherit_tos:  # db_set merges map keys: an earlier setting goes
                txn.add(self.api.db_remove("Interface", name, "options", "tos",
                                           if_exists=True))
        return name

    def bridge_external_id(self, bridge: str, key: str) -> str | None:
        ids = self.api.db_get("Bridge", bridge, "external_ids").execute(check_error=True)
        return (ids or {}).get(key)

    def set_bridge_external_id(self, bridge: str, key: str, value: str) -> None:
        self.api.br_set_external_id(bridge, key, value).execute(check_error=True)

    def interfaces(self, bridge: str) -> list[Interface]:
        """Interfaces on ``bridge`` with their OpenFlow port numbers."""
        port_names = set(self.api.list_ports(bridge).execute(check_error=True) or [])
        rows = self.api.db_list(
            "Interface", columns=["name", "ofport", "external_ids", "type"]).execute(
            check_error=True)
        out = []
        for row in rows:
            if row["name"] not in port_names:
                continue
            ofport = row["ofport"]
            if isinstance(ofport, list):  # an unset optional column
                ofport = ofport[0] if ofport else -1
            ext = row["external_ids"] or {}
            key = ext.get(TUNNEL_KEY_ID)
            out.append(Interface(
                name=row["name"], ofport=int(ofport), iface_id=ext.get("iface-id"),
                tunnel_key=int(key) if key and key.isdigit() else None, type=row["type"]))
        return out

    def set_interface_tunnel_key(self, name: str, key: int | None) -> None:
        if key is None:
            self.api.db_remove("Interface", name, "external_ids", TUNNEL_KEY_ID,
                               if_exists=True).execute(check_error=True)
        else:
            self.api.db_set("Interface", name, ("external_ids", {TUNNEL_KEY_ID: str(key)}),
                            if_exists=True).execute(check_error=True)

    def close(self) -> None:
        try:
            self._conn.stop(timeout=2)
        except Exception:  # noqa: BLE001 - closing on shutdown is best effort
            LOG.debug("closing the OVSDB connection failed", exc_info=True)
