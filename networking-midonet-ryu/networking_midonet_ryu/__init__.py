"""networking-midonet-ryu: Neutron's ML2 driver and L3 plugin for midonet-ryu."""

# Neutron picks oslo.service's threading backend when it is imported; import
# it before anything here loads oslo.service, which would pick eventlet.
import neutron  # noqa: F401
