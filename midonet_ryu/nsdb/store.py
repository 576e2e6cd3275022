"""The topology store: typed objects in ZooKeeper with MidoNet's ZOOM semantics.

Objects live at ``<root>/zoom/0/models/<Class>/<uuid>``. Every write is a
single ZooKeeper multi-op that version-checks every object it read, so a
write either applies whole, on exactly the state it was computed from, or
not at all (``ConcurrentModification``, retried by the read-modify-write
helpers). Bindings (``topology.bindings``) are applied inside the same
multi-op, which is what keeps back-references and cascades consistent.

A transaction may also read and write plain nodes (``node``/``set_node``):
what must change together with the topology but is not a topology object,
such as the Neutron objects a translation came from or persistent entries of
a state table, so that both land in the same multi-op or neither does.
"""
from __future__ import annotations

import builtins
import functools
import logging
import random
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError

from midonet_ryu.nsdb.multi_read import multi_read
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.topology import base
from midonet_ryu.topology.base import ModelObject
from midonet_ryu.topology.bindings import BindingEnd, OnDelete, bindings_of

LOG = logging.getLogger(__name__)
T = TypeVar("T", bound=ModelObject)

_NEW = -1  # version of an object created in this transaction


class StoreError(Exception):
    """Base of the errors a caller of the store can act on."""


class NotFound(StoreError):
    def __init__(self, kind: str, obj_id: uuid.UUID) -> None:
        super().__init__(f"{kind} {obj_id} does not exist")
        self.kind, self.obj_id = kind, obj_id


class ObjectExists(StoreError):
    def __init__(self, kind: str, obj_id: uuid.UUID) -> None:
        super().__init__(f"{kind} {obj_id} already exists")
        self.kind, self.obj_id = kind, obj_id


class ReferentialIntegrityError(StoreError):
    """A delete refused by an ERROR binding, or a reference to a missing object."""


class MissingReference(ReferentialIntegrityError):
    """A reference field names an object that does not exist."""


class ReferenceConflict(StoreError):
    """A single-valued reference is already held by another object."""


class ConcurrentModification(StoreError):
    """Another writer changed what this write read; retry on fresh state."""


class _Entry:
    __slots__ = ("obj", "version", "original", "deleted")

    def __init__(self, obj: ModelObject | None, version: int) -> None:
        self.obj = obj
        self.original = obj
        self.version = version
        self.deleted = False


class Transaction:
    """Buffered reads and writes, committed as one version-checked multi-op.

    Reads inside the transaction see its own pending writes. Do not keep a
    transaction across yields longer than needed: everything it read is
    checked at commit.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._entries: dict[tuple[str, uuid.UUID], _Entry] = {}
        self._order: list[tuple[str, uuid.UUID]] = []
        self._deleting: set[tuple[str, uuid.UUID]] = set()
        self._nodes: dict[str, _Entry] = {}  # plain nodes: obj holds the data (bytes)

    # -- reads ---------------------------------------------------------------
    def _load(self, kind: str, obj_id: uuid.UUID) -> _Entry:
        key = (kind, obj_id)
        entry = self._entries.get(key)
        if entry is None:
            found = self._store._read(kind, obj_id)
            entry = _Entry(*found) if found else _Entry(None, _NEW)
            self._entries[key] = entry
            self._order.append(key)
        return entry

    def get(self, cls: type[T], obj_id: uuid.UUID) -> T:
        entry = self._load(cls.kind, obj_id)
        if entry.obj is None:
            raise NotFound(cls.kind, obj_id)
        return entry.obj  # type: ignore[return-value]

    def find(self, cls: type[T], obj_id: uuid.UUID) -> T | None:
        return self._load(cls.kind, obj_id).obj  # type: ignore[return-value]

    def version(self, cls: type[ModelObject], obj_id: uuid.UUID) -> int:
        """The stored version this transaction read (what its commit checks)."""
        return self._load(cls.kind, obj_id).version

    def prefetch(self, objects: Iterable[tuple[str, uuid.UUID]] = (),
                 nodes: Iterable[str] = ()) -> None:
        """Read, in one round trip (:mod:`multi_read`), the objects and plain
        nodes this transaction is about to use and has not read yet; later
        reads of them cost nothing, and they are version-checked as usual."""
        keys = [k for k in dict.fromkeys(objects) if k not in self._entries]
        paths = [n for n in dict.fromkeys(nodes) if n not in self._nodes]
        if not keys and not paths:
            return
        model_paths = [self._store.paths.model(kind, obj_id) for kind, obj_id in keys]
        results = multi_read(self._store.client, model_paths + paths)
        for key, result in zip(keys, results[:len(keys)], strict=True):
            decode = functools.partial(base.deserialize, base.model_class(key[0]))
            self._entries[key] = _read_entry(result, decode)
            self._order.append(key)
        for path, result in zip(paths, results[len(keys):], strict=True):
            self._nodes[path] = _read_entry(result, lambda data: data)

    def node(self, path: str) -> bytes | None:
        """A plain node's data, or None when it does not exist; version-checked at
        commit like every object read."""
        entry = self._nodes.get(path)
        if entry is None:
            try:
                data, stat = self._store.client.retry(self._store.client.get, path)
                entry = _Entry(data, stat.version)
            except NoNodeError:
                entry = _Entry(None, _NEW)
            self._nodes[path] = entry
        return entry.obj  # type: ignore[return-value]

    def set_node(self, path: str, data: bytes | None) -> None:
        """Write a plain node with the commit (None: delete it; a node that
        does not exist is not deleted twice)."""
        self.node(path)
        self._nodes[path].obj = data  # type: ignore[assignment]

    # -- writes --------------------------------------------------------------
    def create(self, obj: T, fresh_id: bool = False) -> T:
        """Create ``obj``. ``fresh_id``: its id was just generated, so it is not
        read first (one round trip less); the commit's create still fails, as a
        conflict, on the off chance the node exists."""
        key = (obj.kind, obj.id)
        if fresh_id and key not in self._entries:
            self._entries[key] = _Entry(None, _NEW)
            self._order.append(key)
        entry = self._load(obj.kind, obj.id)
        if entry.obj is not None:
            raise ObjectExists(obj.kind, obj.id)
        entry.obj = obj
        entry.deleted = False
        for end in bindings_of(obj.kind):
            for ref in base.ref_ids(getattr(obj, end.field)):
                self._add_backref(end, ref, obj.id)
        return self._load(obj.kind, obj.id).obj  # type: ignore[return-value]

    def update(self, obj: T) -> T:
        entry = self._load(obj.kind, obj.id)
        old = entry.obj
        if old is None:
            raise NotFound(obj.kind, obj.id)
        ends = bindings_of(obj.kind)
        kept = {}
        for end in ends:
            if end.maintained:
                stored, given = getattr(old, end.field), getattr(obj, end.field)
                # membership is the store's; the order (a chain's rules) is the
                # caller's when it names exactly the same members
                if not (isinstance(stored, tuple) and isinstance(given, tuple)
                        and len(given) == len(stored) and set(given) == set(stored)):
                    kept[end.field] = stored
        if kept:
            obj = obj.replace(**kept)
        entry.obj = obj
        for end in ends:
            before = set(base.ref_ids(getattr(old, end.field)))
            after = base.ref_ids(getattr(obj, end.field))
            for ref in before - set(after):
                self._remove_backref(end, ref, obj.id)
            for ref in after:
                if ref not in before:
                    self._add_backref(end, ref, obj.id)
        return self._load(obj.kind, obj.id).obj  # type: ignore[return-value]

    def delete(self, cls: type[ModelObject] | str, obj_id: uuid.UUID,
               missing_ok: bool = False) -> None:
        kind = cls if isinstance(cls, str) else cls.kind
        key = (kind, obj_id)
        if key in self._deleting:
            return
        entry = self._load(kind, obj_id)
        obj = entry.obj
        if obj is None:
            if missing_ok:
                return
            raise NotFound(kind, obj_id)
        self._deleting.add(key)
        for end in bindings_of(kind):
            refs = base.ref_ids(getattr(obj, end.field))
            if not refs:
                continue
            if end.on_delete is OnDelete.ERROR:
                raise ReferentialIntegrityError(
                    f"cannot delete {kind} {obj_id}: {end.field} still references "
                    f"{end.other_kind} {', '.join(map(str, refs))}")
            for ref in refs:
                if end.on_delete is OnDelete.CASCADE:
                    self.delete(end.other_kind, ref, missing_ok=True)
                else:
                    self._remove_backref(end, ref, obj_id)
        entry.obj = None
        entry.deleted = True

    # -- bindings ------------------------------------------------------------
    def _add_backref(self, end: BindingEnd, target_id: uuid.UUID, ref: uuid.UUID) -> None:
        if (end.other_kind, target_id) == (end.kind, ref):
            return  # an object referencing itself through a self-binding
        entry = self._load(end.other_kind, target_id)
        target = entry.obj
        if target is None:
            raise MissingReference(
                f"{end.kind} {ref}.{end.field} references missing {end.other_kind} {target_id}")
        current = getattr(target, end.other_field)
        if isinstance(current, tuple):
            if ref in current:
                return
            entry.obj = target.replace(**{end.other_field: current + (ref,)})
        elif current is None or current == ref:
            if current != ref:
                entry.obj = target.replace(**{end.other_field: ref})
        else:
            raise ReferenceConflict(
                f"{end.other_kind} {target_id}.{end.other_field} already references "
                f"{end.kind} {current}, cannot also reference {ref}")

    def _remove_backref(self, end: BindingEnd, target_id: uuid.UUID, ref: uuid.UUID) -> None:
        if (end.other_kind, target_id) in self._deleting:
            return
        entry = self._load(end.other_kind, target_id)
        target = entry.obj
        if target is None:
            return
        current = getattr(target, end.other_field)
        if isinstance(current, tuple):
            if ref in current:
                entry.obj = target.replace(
                    **{end.other_field: tuple(r for r in current if r != ref)})
        elif current == ref:
            entry.obj = target.replace(**{end.other_field: None})

    # -- commit --------------------------------------------------------------
    def _operations(self) -> list[tuple[str, str, Any, int]]:
        ops: list[tuple[str, str, Any, int]] = []
        for kind, obj_id in self._order:
            entry = self._entries[(kind, obj_id)]
            op = _operation(entry)
            if op is None:
                continue
            path = self._store.paths.model(kind, obj_id)
            data = None if entry.obj is None or op == "check" else base.serialize(entry.obj)
            ops.append((op, path, data, 0 if op == "create" else entry.version))
        for path, node in self._nodes.items():
            op = _operation(node)
            if op is not None:
                ops.append((op, path, node.obj if op in ("create", "set") else None,
                            0 if op == "create" else node.version))
        return ops

    def has_writes(self, ignoring: str | None = None) -> bool:
        """Whether committing would write anything (besides plain node ``ignoring``)."""
        writes = ("create", "set", "delete")
        return (any(_operation(e) in writes for e in self._entries.values())
                or any(_operation(e) in writes for path, e in self._nodes.items()
                       if path != ignoring))

    def commit(self) -> None:
        ops = [op for op in self._operations() if op[0] != "check" or self._store.strict_reads]
        if not any(op[0] in ("create", "set", "delete") for op in ops):
            return
        self._store._commit(ops)
        observer = self._store.on_commit
        if observer is not None:
            observer(self._written())

    def _written(self) -> list[tuple[str, uuid.UUID]]:
        """The objects the commit created, changed or deleted."""
        return [key for key in self._order
                if _operation(self._entries[key]) in ("create", "set", "delete")]


def _read_entry(result: Any, decode: Callable[[bytes], Any]) -> _Entry:
    """One answer of a multiRead as an entry: missing, or decoded with its version."""
    if isinstance(result, NoNodeError):
        return _Entry(None, _NEW)
    if isinstance(result, Exception):
        raise result
    data, stat = result
    return _Entry(decode(data), stat.version)


def _operation(entry: _Entry) -> str | None:
    """What committing ``entry`` does: create, delete, set, check (a read
    to version-check), or nothing (read as missing and not created)."""
    if entry.version == _NEW:
        return "create" if entry.obj is not None else None
    if entry.obj is None:
        return "delete"
    if entry.obj is not entry.original and entry.obj != entry.original:
        return "set"
    return "check"


class Store:
    """Typed object store over one kazoo client."""

    def __init__(self, client: KazooClient, paths: Paths | None = None,
                 strict_reads: bool = True,
                 on_commit: Callable[[builtins.list[tuple[str, uuid.UUID]]], None] | None = None
                 ) -> None:
        self.client = client
        # told the (kind, id) of every object a committed transaction wrote
        self.on_commit = on_commit
        self.paths = paths or Paths()
        # When True every object a transaction read is version-checked at
        # commit, not only the ones it wrote: the serializable choice.
        self.strict_reads = strict_reads
        self._parents: set[str] = set()

    # -- low level -----------------------------------------------------------
    def _ensure_parent(self, parent: str) -> None:
        if parent not in self._parents:
            self.client.ensure_path(parent)
            self._parents.add(parent)

    def _read(self, kind: str, obj_id: uuid.UUID) -> tuple[ModelObject, int] | None:
        try:
            data, stat = self.client.retry(self.client.get, self.paths.model(kind, obj_id))
        except NoNodeError:
            return None
        return base.deserialize(base.model_class(kind), data), stat.version

    def _commit(self, ops: list[tuple[str, str, Any, int]]) -> None:
        for op, path, _, _ in ops:
            if op == "create":
                self._ensure_parent(path.rsplit("/", 1)[0])
        txn = self.client.transaction()
        for op, path, data, version in ops:
            if op == "create":
                txn.create(path, data)
            elif op == "set":
                txn.set_data(path, data, version=version)
            elif op == "delete":
                txn.delete(path, version=version)
            elif op == "check":
                txn.check(path, version)
        results = self.client.retry(txn.commit)
        failures = [r for r in results if isinstance(r, Exception)]
        if failures:
            real = [f for f in failures if not _is_rolled_back(f)]
            raise ConcurrentModification(
                f"write conflicted with another writer: {real[0] if real else failures[0]!r}")

    # -- API -----------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """``with store.transaction() as tx: tx.create(...)``: commit on exit."""
        tx = Transaction(self)
        yield tx
        tx.commit()

    def run(self, fn: Callable[[Transaction], Any], retries: int = 10,
            pause: float = 0.0) -> Any:
        """Run ``fn(tx)`` and commit, re-running it on fresh state on conflict.

        ``pause``: before a re-run, wait a random time up to ``pause`` seconds,
        doubled on each conflict (64 times at most), so writers that collided
        spread out instead of colliding again: without it, of N writers racing
        on one object only one wins each round and the last needs N attempts.
        """
        for attempt in range(retries):
            tx = Transaction(self)
            result = fn(tx)
            try:
                tx.commit()
                return result
            except ConcurrentModification:
                if attempt == retries - 1:
                    raise
                LOG.debug("transaction conflict, retrying (%d)", attempt + 1)
                if pause:
                    self.client.handler.sleep_func(
                        random.uniform(0, pause * 2 ** min(attempt, 6)))
        raise AssertionError("unreachable")

    def get(self, cls: type[T], obj_id: uuid.UUID) -> T:
        found = self._read(cls.kind, obj_id)
        if found is None:
            raise NotFound(cls.kind, obj_id)
        return found[0]  # type: ignore[return-value]

    def find(self, cls: type[T], obj_id: uuid.UUID) -> T | None:
        found = self._read(cls.kind, obj_id)
        return found[0] if found else None  # type: ignore[return-value]

    def find_with_version(self, cls: type[T], obj_id: uuid.UUID) -> tuple[T, int] | None:
        return self._read(cls.kind, obj_id)  # type: ignore[return-value]

    def get_with_version(self, cls: type[T], obj_id: uuid.UUID) -> tuple[T, int]:
        found = self.find_with_version(cls, obj_id)
        if found is None:
            raise NotFound(cls.kind, obj_id)
        return found

    def exists(self, cls: type[ModelObject], obj_id: uuid.UUID) -> bool:
        return self.client.exists(self.paths.model(cls.kind, obj_id)) is not None

    def ids(self, cls: type[ModelObject]) -> list[uuid.UUID]:
        try:
            children = self.client.retry(self.client.get_children, self.paths.models(cls.kind))
        except NoNodeError:
            return []
        return [uuid.UUID(c) for c in children]

    def list(self, cls: type[T]) -> list[T]:
        out = []
        for obj_id in self.ids(cls):
            obj = self.find(cls, obj_id)
            if obj is not None:
                out.append(obj)
        return out

    def list_all(self, cls: type[T]) -> builtins.list[T]:
        """Every object of ``cls``, read in a few round trips (:mod:`multi_read`):
        one request per object costs seconds at ten thousand ports."""
        ids = self.ids(cls)
        results = multi_read(self.client, [self.paths.model(cls.kind, i) for i in ids])
        out: builtins.list[T] = []
        for result in results:
            if isinstance(result, NoNodeError):
                continue  # deleted since the listing
            if isinstance(result, Exception):
                raise result
            out.append(base.deserialize(cls, result[0]))
        return out

    def create(self, obj: T) -> T:
        # a second attempt turns a lost creation race into ObjectExists
        return self.run(lambda tx: tx.create(obj), retries=2)

    def update(self, obj: T, expected_version: int | None = None) -> T:
        """Write ``obj`` over the stored one; with ``expected_version``, only
        if nobody wrote it since that version (compare-and-swap)."""

        def op(tx: Transaction) -> ModelObject:
            entry = tx._load(obj.kind, obj.id)
            if expected_version is not None and entry.version != expected_version:
                raise ConcurrentModification(
                    f"{obj.kind} {obj.id} is at version {entry.version}, "
                    f"not {expected_version}")
            return tx.update(obj)

        return self.run(op, retries=1 if expected_version is not None else 10)

    def update_with(self, cls: type[T], obj_id: uuid.UUID, change: Callable[[T], T],
                    retries: int = 10) -> T:
        """Read-modify-write: ``change(current)`` is re-applied on conflict."""
        return self.run(lambda tx: tx.update(change(tx.get(cls, obj_id))), retries)

    def delete(self, cls: type[ModelObject], obj_id: uuid.UUID) -> None:
        self.run(lambda tx: tx.delete(cls, obj_id))

    def multi(self, ops: Iterable[tuple[str, Any]]) -> None:
        """Apply ``[("create", obj), ("update", obj), ("delete", (cls, id))]``
        atomically."""
        ops = list(ops)

        def apply(tx: Transaction) -> None:
            for op, arg in ops:
                if op == "create":
                    tx.create(arg)
                elif op == "update":
                    tx.update(arg)
                elif op == "delete":
                    tx.delete(*arg)
                else:
                    raise ValueError(f"unknown operation {op!r}")

        self.run(apply)

    def clear_all(self) -> None:
        """Remove every stored object (tests and the sandbox only)."""
        try:
            self.client.delete(self.paths.zoom + "/models", recursive=True)
        except (NoNodeError, NotEmptyError):
            pass
        self._parents.clear()


def _is_rolled_back(exc: Exception) -> bool:
    # kazoo reports the ops that were not at fault as RolledBackError
    return type(exc).__name__ in ("RolledBackError", "RuntimeInconsistency")


__all__ = [
    "BadVersionError", "ConcurrentModification", "NodeExistsError", "NotFound",
    "MissingReference", "ObjectExists", "ReferenceConflict", "ReferentialIntegrityError", "Store",
    "StoreError", "Transaction",
]
