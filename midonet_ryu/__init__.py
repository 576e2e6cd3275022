"""midonet-ryu: MidoNet's distributed design on OS-Ken and Open vSwitch.

The package is the pure core: topology model, ZooKeeper store, simulation,
translation to OpenFlow, state tables and flow state. I/O lives in ``apps/``
(agents) and ``cluster_proxy/`` (the cluster daemon).
"""
