"""OS-Ken applications: thin I/O shells around the midonet_ryu core."""
