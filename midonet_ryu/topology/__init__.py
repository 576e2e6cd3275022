"""Topology model: typed immutable objects, bindings, and the agent's cache."""
