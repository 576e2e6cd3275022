"""From simulation results to OpenFlow: pipeline layout, cookies, translation,
and the index that ties each installed flow to what it depends on."""
