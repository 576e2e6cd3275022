"""Port status: what the cluster says the agents really bound.

``PortStatusFeed`` (pure) follows the cluster's cursor and the set of ports
it last said were active. ``PortStatusApplier`` turns that into Neutron's
port status: an active port completes our provisioning block (Neutron then
sets it ACTIVE, as it does when an L2 agent reports a device up); an
inactive one gets the block again and goes DOWN.

The feed only reports changes, so a change missed by Neutron would stay
missed. Two things make it level-triggered instead: after a reset (the first
answer, or the cluster forgot our cursor) every bound ACTIVE port the
cluster does not list goes DOWN; and after each answer, a port we block that
the cluster already lists as active is completed, which covers a port bound
again to the host that already had it (no change for the cluster to report).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from neutron.db import models_v2, provisioning_blocks
from neutron.db.models import provisioning_block
from neutron.plugins.ml2 import models as ml2_models
from neutron_lib import constants as n_const
from neutron_lib.api.definitions import portbindings
from neutron_lib.callbacks import resources
from neutron_lib.db import api as db_api
from neutron_lib.plugins import directory
from oslo_log import log as logging

ENTITY = 'midonet-ryu'
"""Our provisioning block entity."""

DRIVER_NAME = 'midonet_ryu'
"""The mechanism driver's entry point name, as ML2 records it on binding levels."""

_UNBOUND = (portbindings.VIF_TYPE_UNBOUND, portbindings.VIF_TYPE_BINDING_FAILED)

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusChanges:
    reset: bool
    active: frozenset[str]
    inactive: frozenset[str]

    @property
    def empty(self) -> bool:
        return not (self.reset or self.active or self.inactive)


def _ids(value: Any, key: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
        raise ValueError(f'port_status: {key} is not a list of port ids')
    return frozenset(value)


class PortStatusFeed:
    """The cursor and the active set, from the cluster's answers."""

    def __init__(self) -> None:
        self.cursor: str | None = None
        self.active: set[str] = set()

    def apply(self, answer: Any) -> StatusChanges:
        """Fold one answer in; raise ValueError (and change nothing) if it is malformed.

        A port listed both active and inactive ended active: it went down
        and came back within the same window.
        """
        if not isinstance(answer, Mapping) or not isinstance(answer.get('cursor'), str | int):
            raise ValueError('port_status: no cursor in the answer')
        active = _ids(answer.get('active'), 'active')
        inactive = _ids(answer.get('inactive'), 'inactive') - active
        reset = self.cursor is None or bool(answer.get('reset'))
        if reset:
            self.active = set(active)
            inactive = frozenset()
        else:
            self.active -= inactive
            self.active |= active
        self.cursor = str(answer['cursor'])
        return StatusChanges(reset, active, inactive)


@dataclass(frozen=True)
class _PortView:
    status: str
    bound: bool
    ours: bool


class PortStatusApplier:
    """Neutron's side of port status: provisioning blocks and DOWN."""

    def __init__(self, driver_name: str = DRIVER_NAME) -> None:
        self.driver_name = driver_name

    def apply(self, context: Any, changes: StatusChanges) -> None:
        if changes.reset:
            self._down(context, self._active_ports_of_ours(context) - changes.active)
        self._down(context, changes.inactive)
        self._up(context, changes.active, only_if_needed=changes.reset)

    def complete_blocked(self, context: Any, known_active: Iterable[str]) -> None:
        known = set(known_active)
        if known:
            self._up(context, self._blocked_ports(context) & known, only_if_needed=False)

    # -- reading ------------------------------------------------------------

    def _view(self, context: Any, port_id: str) -> _PortView | None:
        with db_api.CONTEXT_READER.using(context):
            port = context.session.query(models_v2.Port).filter_by(id=port_id).one_or_none()
            if port is None:
                return None
            binding = next((b for b in port.port_bindings
                            if b.status == n_const.ACTIVE), None)
            if binding is None or not binding.host or binding.vif_type in _UNBOUND:
                return _PortView(port.status, False, False)
            ours = any(level.driver == self.driver_name and level.host == binding.host
                       for level in port.binding_levels)
            return _PortView(port.status, True, ours)

    def _active_ports_of_ours(self, context: Any) -> set[str]:
        with db_api.CONTEXT_READER.using(context):
            rows = (context.session.query(models_v2.Port.id)
                    .join(ml2_models.PortBindingLevel,
                          ml2_models.PortBindingLevel.port_id == models_v2.Port.id)
                    .filter(ml2_models.PortBindingLevel.driver == self.driver_name,
                            models_v2.Port.status == n_const.PORT_STATUS_ACTIVE)
                    .distinct().all())
            return {row[0] for row in rows}

    def _blocked_ports(self, context: Any) -> set[str]:
        block = provisioning_block.ProvisioningBlock
        with db_api.CONTEXT_READER.using(context):
            rows = (context.session.query(models_v2.Port.id)
                    .join(block, block.standard_attr_id == models_v2.Port.standard_attr_id)
                    .filter(block.entity == ENTITY).all())
            return {row[0] for row in rows}

    # -- writing ------------------------------------------------------------

    def _up(self, context: Any, port_ids: Iterable[str], only_if_needed: bool) -> None:
        for port_id in sorted(port_ids):
            view = self._view(context, port_id)
            if view is None or not view.bound:
                continue
            if (only_if_needed and view.status == n_const.PORT_STATUS_ACTIVE
                    and not provisioning_blocks.is_object_blocked(context, port_id,
                                                                  resources.PORT)):
                continue
            LOG.debug('midonet-ryu reports port %s active', port_id)
            provisioning_blocks.provisioning_complete(context, port_id, resources.PORT, ENTITY)

    def _down(self, context: Any, port_ids: Iterable[str]) -> None:
        plugin = directory.get_plugin()
        for port_id in sorted(port_ids):
            view = self._view(context, port_id)
            if view is None or not view.bound or not view.ours:
                continue
            LOG.debug('midonet-ryu reports port %s inactive', port_id)
            # Block first, so that no other entity's completion can turn it
            # ACTIVE again before our agent has it.
            provisioning_blocks.add_provisioning_component(context, port_id, resources.PORT,
                                                           ENTITY)
            if view.status != n_const.PORT_STATUS_DOWN:
                plugin.update_port_status(context, port_id, n_const.PORT_STATUS_DOWN)
