"""The NSDB: topology objects, ephemeral state keys and state tables in ZooKeeper."""
