"""Compatibility re-exports of the State Proxy client, now the session, view and transport."""
from midonet_ryu.nsdb.state_proxy_transport import (
    WORK_QUEUE_SIZE,
    ProxiedStateTable,
    StateProxyClient,
)
from midonet_ryu.nsdb.state_table_provider import StateTableProvider
from midonet_ryu.stateproxy.session import (
    CONNECTED,
    HARD,
    MAX_RESPONSE_FRAME,
    SOFT,
    STOPPED,
)

__all__ = ["CONNECTED", "HARD", "MAX_RESPONSE_FRAME", "SOFT", "STOPPED", "WORK_QUEUE_SIZE",
           "ProxiedStateTable", "StateProxyClient", "StateTableProvider"]
