"""Entry point for oslo-config-generator: every option group of midonet-ryu."""
import importlib
from typing import Any

# One module per group; later groups are appended here as their services land.
_MODULES = (
    "midonet_ryu.conf.zookeeper",
    "midonet_ryu.conf.host",
    "midonet_ryu.conf.agent",
    "midonet_ryu.conf.state_proxy",
    "midonet_ryu.conf.cluster",
    "midonet_ryu.conf.auth",
    "midonet_ryu.conf.neutron",
)


def list_opts() -> list[tuple[str, list[Any]]]:
    result = []
    for name in _MODULES:
        mod = importlib.import_module(name)
        result.append((mod.GROUP, list(mod.OPTS)))
    return result
