"""[host]: the identity of this machine in the topology."""
from oslo_config import cfg

GROUP = "host"

OPTS = [
    cfg.StrOpt(
        "host_id",
        help="UUID of this host. When unset, it is read from host_id_file, which is "
        "created with a random UUID on first start so the identity survives restarts.",
    ),
    cfg.StrOpt(
        "host_id_file",
        default="/var/lib/midonet-ryu/host_id",
        help="File holding this host's UUID when host_id is unset.",
    ),
    cfg.StrOpt(
        "hostname",
        help="Name registered for this host; defaults to the machine's hostname.",
    ),
]
