"""Database migrations of networking-midonet-ryu, run by ``neutron-db-manage``.

Neutron finds them through the ``neutron.db.alembic_migrations`` entry point
``networking-midonet-ryu = networking_midonet_ryu.db.migration:alembic_migrations``,
which names the ``alembic_migrations`` directory below as an alembic script
location; ``neutron-db-manage --subproject networking-midonet-ryu upgrade head``
applies them. They follow Neutron's expand/contract branches, with a version
table of their own.
"""

# Importable too, so that loading the entry point as an object works.
from networking_midonet_ryu.db.migration import alembic_migrations  # noqa: E402,F401
