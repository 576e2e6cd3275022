"""``midonet-cli``: the operator's command line for the cluster's REST API.

Its resource commands are generated from :mod:`midonet_ryu.api.resources`,
the same table the server's routes come from, so a field added to a resource
becomes an option without touching this package.
"""
