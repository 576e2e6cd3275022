"""One client connection of the State Proxy: its requests, subscriptions and queue.

Outgoing messages wait in one bounded queue per connection. It starts at
``initial_subscriber_queue_size`` messages and doubles when full up to
``max_subscriber_queue_size``. A subscription whose update does not fit stops
receiving individual updates ("lagging"); once the queue has drained, the
writer catches it up in one go with the changes since the last version it was
sent (or a snapshot), built lazily batch by batch. So a slow subscriber costs
at most the queue cap plus one catch-up in flight, never unbounded memory;
a subscriber that stops reading altogether hits ``channel_timeout`` on a
blocked write and is disconnected.
"""
from __future__ import annotations

import collections
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from midonet_ryu.metrics import ClusterCounter
from midonet_ryu.nsdb.state_catalogue import find_spec
from midonet_ryu.nsdb.state_codecs import EncodingError
from midonet_ryu.stateproxy import state_api as m
from midonet_ryu.stateproxy.framing import FrameDecoder, frame
from midonet_ryu.stateproxy.protowire import DecodeError

LOG = logging.getLogger(__name__)

MAX_REQUEST_FRAME = 64 * 1024
"""Requests are small; anything larger is a broken or hostile peer."""
SEND_CHUNK = 256 * 1024


class Subscription:
    """A client's subscription to one table cache (implements cache.Subscriber)."""

    __slots__ = ("sid", "request_id", "conn", "cache", "sent_version", "lagging", "ended",
                 "since", "framer")

    def __init__(self, sid: int, request_id: int, conn: Connection, cache: Any,
                 base_version: int | None) -> None:
        self.sid = sid
        self.request_id = request_id
        self.conn = conn
        self.cache = cache
        self.sent_version = base_version
        self.lagging = True  # the first catch-up is its initial snapshot/diff
        self.ended = False
        self.since = time.monotonic()
        self.framer = m.NotifyFramer(request_id, sid)

    def push(self, fields: list[bytes]) -> None:
        self.conn.push_update(self, fields)

    def need_catch_up(self) -> None:
        self.conn.wake()

    def complete(self, completed: m.Completed) -> None:
        self.conn.end_subscription(self, completed)


class Connection:
    """Reader (requests) and writer (queue -> socket) of one client."""

    def __init__(self, sock: socket.socket, peer: Any, service: Any) -> None:
        self.sock = sock
        self.peer = peer
        self.service = service
        conf = service.options
        self.capacity = conf.initial_queue
        self.max_capacity = max(conf.max_queue, conf.initial_queue)
        self.batch_size = conf.batch_size
        self.channel_timeout = conf.channel_timeout
        self.max_subscriptions = conf.max_subscriptions
        self.queue: collections.deque = collections.deque()
        self.cond = threading.Condition()
        self.subs: dict[int, Subscription] = {}
        self.next_sid = 1
        self.closed = False
        self.bytes_sent = 0
        self.frames_sent = 0
        self.catch_ups = 0
        self.overflows = 0
        self.worker = 0  # index of the request worker serving this connection
        self.sending = False  # the writer holds popped data it has not sent yet
        self.raw = getattr(sock, "fd", sock)  # the OS socket under eventlet's green one

    # -- queue ------------------------------------------------------------------------------
    def _append(self, item: Any) -> None:
        with self.cond:
            self.queue.append(item)
            self.cond.notify()

    def wake(self) -> None:
        with self.cond:
            self.cond.notify()

    def send_control(self, response: m.ProxyResponse) -> None:
        """Acks, pongs, errors: always queued, but a peer that lets them pile up is cut."""
        if self.closed:
            return
        if len(self.queue) > 2 * self.max_capacity + 64:
            LOG.warning("state proxy client %s does not read its replies; closing", self.peer)
            self.close()
            return
        self._append(frame(m.encode_response(response)))

    def push_update(self, sub: Subscription, fields: list[bytes]) -> None:
        """Queue (or send right away) update fields made by ``shared_update_field``."""
        if self.closed or sub.ended:
            return
        with self.cond:
            if not self.queue and not self.sending and self.raw is not None:
                # Fast path: nothing queued, so try the socket right away without
                # waking the writer (most updates to a healthy subscriber).
                data = b"".join([sub.framer.frame(f) for f in fields])
                try:
                    sent = self.raw.send(data, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    sent = 0
                except OSError:
                    sent = 0  # the writer finds the error and closes
                self.bytes_sent += sent
                self.frames_sent += len(fields)
                if sent < len(data):
                    self.queue.append(data[sent:])
                    self.cond.notify()
                return
            need = len(self.queue) + len(fields)
            while need > self.capacity and self.capacity < self.max_capacity:
                self.capacity = min(self.capacity * 2, self.max_capacity)
            if need > self.capacity:
                sub.lagging = True
                self.overflows += 1
                self.service.metrics.inc(ClusterCounter.SUBSCRIBER_OVERFLOWS)
                return
            for f in fields:
                self.queue.append(sub.framer.frame(f))
            self.cond.notify()

    def _catch_up_frames(self, sub: Subscription, catch_up: Any) -> Iterator[bytes]:
        for body in catch_up.bodies(self.batch_size):
            if sub.ended:
                return
            yield sub.framer.frame(m.shared_update_field(body))

    def _schedule_catch_ups(self) -> None:
        """With an empty queue, give each lagging subscription its catch-up."""
        for sub in list(self.subs.values()):
            if not sub.lagging or sub.ended:
                continue
            catch_up = sub.cache.catch_up(sub.sent_version, time.monotonic() - sub.since)
            if catch_up is None:
                continue  # cache not synced yet: it wakes us when it is
            sub.lagging = False
            sub.sent_version = catch_up.version
            self.catch_ups += 1
            self.service.metrics.catch_ups.inc(
                "snapshot" if catch_up.type == m.UpdateType.SNAPSHOT else "diff")
            self.queue.append(self._catch_up_frames(sub, catch_up))

    def writer(self) -> None:
        """Drain the queue to the socket; catch lagging subscriptions up when empty."""
        sock = self.sock
        if sock is None:
            return
        sock.settimeout(self.channel_timeout)
        try:
            while not self.closed:
                chunks: list[bytes] = []
                size = 0
                with self.cond:
                    if not self.queue:
                        self._schedule_catch_ups()
                    while not self.queue and not self.closed:
                        self.cond.wait(1.0)
                        if not self.queue:
                            self._schedule_catch_ups()
                    while self.queue and size < SEND_CHUNK:
                        item = self.queue[0]
                        if isinstance(item, bytes | bytearray):
                            self.queue.popleft()
                            chunks.append(item)
                            size += len(item)
                            continue
                        try:
                            while size < SEND_CHUNK:
                                data = next(item)
                                chunks.append(data)
                                size += len(data)
                        except StopIteration:
                            self.queue.popleft()
                    self.sending = bool(chunks)
                if chunks:
                    data = b"".join(chunks)
                    sock.sendall(data)
                    self.bytes_sent += len(data)
                    self.frames_sent += len(chunks)
                    with self.cond:
                        self.sending = False
        except TimeoutError:
            LOG.warning("state proxy client %s blocked writes for %.0fs; disconnecting",
                        self.peer, self.channel_timeout)
            self.service.metrics.inc(ClusterCounter.SLOW_DISCONNECTS)
        except OSError as e:
            LOG.info("state proxy client %s: write failed: %s", self.peer, e)
        finally:
            self.close()

    # -- requests ---------------------------------------------------------------------------
    def reader(self) -> None:
        decoder = FrameDecoder(MAX_REQUEST_FRAME)
        sock = self.sock
        if sock is None:
            return
        try:
            while not self.closed:
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    # The writer's channel timeout is set on this same socket,
                    # but a client that sends nothing is idle, not stuck:
                    # only blocked writes end a connection.
                    continue
                if not data:
                    break
                try:
                    frames = decoder.feed(data)
                except DecodeError as e:
                    LOG.warning("state proxy client %s: bad framing (%s); closing", self.peer, e)
                    self.service.metrics.inc(ClusterCounter.BAD_FRAMES)
                    self.send_control(m.ProxyResponse(0, m.Error(m.ErrorCode.UNKNOWN_PROTOCOL,
                                                                 str(e))))
                    self._flush_then_close()
                    return
                for payload in frames:
                    self.service.submit(self, payload)
        except OSError as e:
            LOG.debug("state proxy client %s: read failed: %s", self.peer, e)
        finally:
            if not self.closed:
                self.close()

    def _flush_then_close(self) -> None:
        with self.cond:
            self.closed = True
            items = [i for i in self.queue if isinstance(i, bytes | bytearray)]
            self.queue.clear()
            self.cond.notify_all()
        try:
            self.sock.settimeout(1.0)
            self.sock.sendall(b"".join(items))
        except (OSError, AttributeError):
            pass
        self.close()

    def handle(self, payload: bytes) -> None:
        """Process one request frame (on a request worker)."""
        if self.closed:
            return
        try:
            request = m.decode_request(payload)
        except DecodeError as e:
            self.service.metrics.inc(ClusterCounter.BAD_REQUESTS)
            self.send_control(m.ProxyResponse(0, m.Error(m.ErrorCode.UNKNOWN_MESSAGE, str(e))))
            return
        body = request.body
        rid = request.request_id
        if isinstance(body, m.Ping):
            self.send_control(m.ProxyResponse(rid, m.Pong()))
        elif isinstance(body, m.Subscribe):
            self._subscribe(rid, body)
        elif isinstance(body, m.Unsubscribe):
            sub = self.subs.pop(body.subscription_id, None)
            if sub is None:
                self.send_control(m.ProxyResponse(rid, m.Error(
                    m.ErrorCode.NO_SUBSCRIPTION, f"no subscription {body.subscription_id}")))
                return
            sub.ended = True
            self.service.release(sub)
            self.send_control(m.ProxyResponse(rid, m.Acknowledge(sub.sid, sub.sent_version)))
        else:
            self.send_control(m.ProxyResponse(rid, m.Error(m.ErrorCode.UNKNOWN_MESSAGE,
                                                           "unknown request")))

    def _subscribe(self, rid: int, body: m.Subscribe) -> None:
        if self.service.shutting_down:
            self.send_control(m.ProxyResponse(rid, m.Error(m.ErrorCode.SERVER_SHUTDOWN,
                                                           "server shutting down")))
            return
        try:
            spec = find_spec(body.object_class, body.table_name, body.key_class,
                                 body.value_class)
            args = tuple(body.table_arguments)
            if len(args) != spec.arg_count or any(not a or "/" in a for a in args):
                raise EncodingError(
                    f"{spec.name} takes {spec.arg_count} non-empty argument(s), got {args!r}")
        except EncodingError as e:
            self.send_control(m.ProxyResponse(rid, m.Error(m.ErrorCode.INVALID_ARGUMENT,
                                                           str(e))))
            return
        if len(self.subs) >= self.max_subscriptions:
            self.send_control(m.ProxyResponse(rid, m.Error(
                m.ErrorCode.INVALID_ARGUMENT, "too many subscriptions on this connection")))
            return
        sid = self.next_sid
        self.next_sid += 1
        cache = self.service.acquire(spec, body.object_id, args)
        sub = Subscription(sid, rid, self, cache, body.last_version)
        self.subs[sid] = sub
        # Ack first, then the initial catch-up follows from the writer.
        self.send_control(m.ProxyResponse(rid, m.Acknowledge(
            sid, cache.version if cache.synced else None)))
        cache.subscribers.add(sub)
        self.wake()

    def end_subscription(self, sub: Subscription, completed: m.Completed) -> None:
        if sub.ended:
            return
        sub.ended = True
        self.subs.pop(sub.sid, None)
        self.service.release(sub)
        self.send_control(m.ProxyResponse(sub.request_id, m.Notify(sub.sid, completed)))

    def close(self) -> None:
        with self.cond:
            if self.closed and self.sock is None:
                return
            self.closed = True
            self.cond.notify_all()
        for sub in list(self.subs.values()):
            sub.ended = True
            self.service.release(sub)
        self.subs.clear()
        sock, self.sock = self.sock, None  # type: ignore[assignment]
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            self.service.forget(self)
