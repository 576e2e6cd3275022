"""Topology model: typed immutable objects, bindings, and read views.

Importing the package registers every model class and binding, so a store or
cache can never run with half the referential-integrity rules loaded.
"""
from midonet_ryu.topology import dhcp, lb, model, router, rules, trace  # noqa: F401
