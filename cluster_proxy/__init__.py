"""midonet-cluster: the cluster daemon and its services (MidoNet's cluster node)."""
