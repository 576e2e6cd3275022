"""Neutron's objects translated into the NSDB's, as MidoNet's C3PO did.

Neutron's plugin sends each resource whole (a network, a port, a security
group with its rules...) to the cluster, which stores it and replaces what
the previous version translated into with what this one translates into, in
one version-checked transaction. Translations are pure functions of the
resource and what they may read (:class:`inputs.Inputs`): the objects they
own, and what they add to objects others own (:mod:`desired`).
"""
