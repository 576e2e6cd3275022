"""The agent's configuration object.

OS-Ken keeps its options on its own ``ConfigOpts`` (``os_ken.cfg.CONF``);
the agent registers midonet-ryu's groups on that same object, so one
``--config-file`` serves both, under ``midonet-agent`` and under
``osken-manager`` alike (oslo.config reads late-registered, non-CLI options
from the files it already parsed).
"""
from __future__ import annotations

import fcntl
import socket
import struct

from oslo_config import cfg

from midonet_ryu.conf import register_all


def conf() -> cfg.ConfigOpts:
    from os_ken import cfg as osken_cfg

    c = osken_cfg.CONF
    if "agent" not in c:
        register_all(c)
    return c


def _interface_ipv4(name: str) -> str | None:
    SIOCGIFADDR = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", name[:15].encode()))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def underlay_ip(c: cfg.ConfigOpts) -> str | None:
    if c.agent.underlay_ip:
        return c.agent.underlay_ip
    if c.agent.underlay_interface:
        return _interface_ipv4(c.agent.underlay_interface)
    return None
