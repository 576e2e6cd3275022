"""Alembic environment of the subproject: Neutron's, with our version table."""

from alembic import context
from neutron.db.migration.connection import DBConnection
from neutron_lib.db import model_base

from networking_midonet_ryu.db import models  # noqa: F401  (the metadata to compare)

VERSION_TABLE = 'alembic_version_midonet_ryu'

config = context.config
neutron_config = config.neutron_config  # type: ignore[attr-defined]
target_metadata = model_base.BASEV2.metadata


def include_object(object_, name, type_, reflected, compare_to):
    # Autogenerate must only ever see this subproject's table.
    if type_ == 'table':
        return name == models.TABLE
    return True


def run_migrations_offline() -> None:
    kwargs = {'version_table': VERSION_TABLE, 'include_object': include_object}
    if neutron_config.database.connection:
        kwargs['url'] = neutron_config.database.connection
    else:
        kwargs['dialect_name'] = neutron_config.database.engine
    context.configure(**kwargs)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get('connection')
    with DBConnection(neutron_config.database.connection, connection) as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          version_table=VERSION_TABLE, include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
