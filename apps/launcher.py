"""``midonet-agent``: the launcher that replaces ``osken-manager``.

os-ken 4 removed its manager; like Neutron's native OpenFlow agent, this
parses configuration, sets up logging and runs the apps through
``AppManager``. It picks the one concurrency model of the project, eventlet,
before anything else is imported, and exits within a bound on SIGINT/SIGTERM
(neither os-ken hub stops on signals by itself).
"""
from __future__ import annotations

import os
import signal
import sys
import warnings

os.environ["OSKEN_HUB_TYPE"] = "eventlet"
# eventlet announces its own deprecation on import (a Warning, not a
# DeprecationWarning); the project has chosen it knowingly.
warnings.filterwarnings("ignore", message=".*[Ee]ventlet.*")

import eventlet  # noqa: E402

# Patch everything, not ``os_ken.lib.hub.patch(thread=True)``: eventlet reads
# an explicit ``thread=True`` as "patch only threads", which leaves select and
# sockets blocking and freezes the hub inside ovsdbapp's IDL loop.
eventlet.monkey_patch()

import logging  # noqa: E402

from os_ken.lib import hub  # noqa: E402

AGENT_APPS = ["os_ken.controller.ofp_handler", "apps.agent"]
SHUTDOWN_TIMEOUT = 5.0
LOG = logging.getLogger("midonet_ryu.agent")


def main(argv: list[str] | None = None) -> int:
    # os-ken registers its OpenFlow listener options on import of app_manager
    from os_ken.base import app_manager
    from oslo_log import log as oslo_log

    from apps import config

    conf = config.conf()
    oslo_log.register_options(conf)
    conf(sys.argv[1:] if argv is None else argv, project="midonet-ryu",
         prog="midonet-agent", default_config_files=[])
    oslo_log.setup(conf, "midonet-ryu")
    conf.set_override("ofp_listen_host", conf.agent.openflow_listen_address)
    conf.set_override("ofp_tcp_listen_port", conf.agent.openflow_listen_port)

    manager = app_manager.AppManager.get_instance()
    manager.load_apps(AGENT_APPS)
    services = manager.instantiate_apps(**manager.create_contexts())

    def stop(signum, frame):  # noqa: ARG001 - signal handler signature
        LOG.info("signal %d: shutting down", signum)
        hub.spawn(_shutdown, manager)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        hub.joinall(services)
    finally:
        _shutdown(manager)
    return 0


def _shutdown(manager) -> None:
    """Release what outlives the process (the ZooKeeper session and its
    ephemeral nodes, the OVSDB connection), then exit.

    os-ken's own ``AppManager.close`` joins every app's green threads and can
    wait forever on one blocked in I/O; nothing it would clean up survives the
    process, so it is not waited for. The whole shutdown is bounded.
    """
    def deadline(signum, frame):  # noqa: ARG001
        os._exit(1)

    signal.signal(signal.SIGALRM, deadline)
    signal.alarm(int(SHUTDOWN_TIMEOUT))
    for app in list(manager.applications.values()):
        release = getattr(app, "release", None)
        if release is None:
            continue
        try:
            release()
        except Exception:  # noqa: BLE001 - we are exiting either way
            LOG.exception("error while stopping %s", app.name)
    LOG.info("stopped")
    logging.shutdown()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
