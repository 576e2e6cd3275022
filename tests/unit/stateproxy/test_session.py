"""The State Proxy client's state machine, fed events by hand: no sockets, no threads."""
import random

from midonet_ryu.stateproxy import session as s
from midonet_ryu.stateproxy import state_api as m
from midonet_ryu.stateproxy.framing import FrameDecoder, frame

A, B = ("10.0.0.1", 2346), ("10.0.0.2", 2346)
CONFIG = s.SessionConfig(soft_reconnect_delay=1.0, max_soft_reconnect_attempts=3,
                         hard_reconnect_delay=30.0, read_timeout=9.0)


def new_session(config=CONFIG):
    return s.Session(config, rng=random.Random(1))


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def dial(session, now, endpoints=(A, B)):
    """Tick until an attempt is due, then list ``endpoints``: the Connect chosen."""
    assert of(session.tick(now), s.ListEndpoints)
    return session.endpoints_listed(now, list(endpoints))


def connect(session, now, endpoints=(A, B)):
    [action] = dial(session, now, endpoints)
    assert isinstance(action, s.Connect)
    return session.connected(now)


def respond(session, now, *responses):
    data = b"".join(frame(m.encode_response(r)) for r in responses)
    return session.received(now, data)


def requests(actions):
    decoder = FrameDecoder(1 << 20)
    return [m.decode_request(p) for a in of(actions, s.Send) for p in decoder.feed(a.data)]


def test_first_attempt_is_immediate_and_connecting_subscribes_every_table():
    session = new_session()
    assert session.wakeup_at() == float("-inf")
    t1, t2 = object(), object()
    assert session.open_table(t1) == [s.ReadZooKeeper(t1, "new")]
    actions = connect(session, 0.0)
    assert session.state == s.CONNECTED
    assert of(actions, s.StateChanged) == [s.StateChanged(s.SOFT, s.CONNECTED)]
    subs = of(actions, s.SubscribeTable)
    assert [a.table for a in subs] == [t1] and subs[0].generation == 1
    assert session.open_table(t2) == [s.SubscribeTable(t2, subs[0].request_id + 1, 1)]


def test_table_opened_while_disconnected_reads_zookeeper_until_a_proxy_connects():
    session = new_session()
    table = object()
    assert session.open_table(table) == [s.ReadZooKeeper(table, "new")]
    assert of(connect(session, 0.0), s.SubscribeTable)[0].table is table


def test_soft_reconnect_tries_a_different_proxy_first():
    session = new_session()
    table = object()
    session.open_table(table)
    connect(session, 0.0, endpoints=[A])
    assert session.endpoint == A
    lost = session.connection_lost(100.0)
    assert session.state == s.SOFT and of(lost, s.ReadZooKeeper) == []  # tables keep state
    assert session.wakeup_at() == float("-inf")  # it was up a long time: retry at once
    now = 100.0
    for expected in [B, A, B]:  # whatever the random choice, never the one that failed
        assert dial(session, now) == [s.Connect(expected)]
        session.connect_failed(now)
        now += CONFIG.soft_reconnect_delay
    assert session.state == s.SOFT


def test_after_max_soft_attempts_every_table_reads_zookeeper():
    session = new_session()
    tables = [object(), object()]
    for t in tables:
        session.open_table(t)
    now = 0.0
    for _ in range(CONFIG.max_soft_reconnect_attempts):
        actions = dial(session, now) + session.connect_failed(now)
        assert session.state == s.SOFT and of(actions, s.ReadZooKeeper) == []
        assert session.wakeup_at() == now + CONFIG.soft_reconnect_delay
        assert session.tick(now + 0.5) == []  # not due yet
        now += CONFIG.soft_reconnect_delay
    actions = dial(session, now) + session.connect_failed(now)
    assert session.state == s.HARD
    assert of(actions, s.StateChanged) == [s.StateChanged(s.SOFT, s.HARD)]
    assert of(actions, s.ReadZooKeeper) == [s.ReadZooKeeper(t, "hard") for t in tables]
    assert session.wakeup_at() == now + CONFIG.hard_reconnect_delay


def test_no_proxy_registered_counts_as_a_failed_attempt():
    session = new_session(s.SessionConfig(max_soft_reconnect_attempts=0))
    session.open_table(t := object())
    assert of(session.tick(0.0), s.ListEndpoints)
    assert of(session.endpoints_listed(0.0, []), s.ReadZooKeeper) == [
        s.ReadZooKeeper(t, "hard")]
    session = new_session(s.SessionConfig(max_soft_reconnect_attempts=0))
    session.tick(0.0)
    session.endpoints_listed(0.0, None)  # discovery failed
    assert session.state == s.HARD


def test_hard_phase_retries_every_hard_delay_and_switches_back():
    session = new_session(s.SessionConfig(max_soft_reconnect_attempts=0,
                                          hard_reconnect_delay=30.0))
    table = object()
    session.open_table(table)
    dial(session, 0.0)
    session.connect_failed(0.0)
    assert session.state == s.HARD
    assert session.tick(29.9) == []
    dial(session, 30.0)
    assert of(session.connect_failed(30.0), s.ReadZooKeeper) == []  # already direct
    assert session.wakeup_at() == 60.0 and session.state == s.HARD
    actions = connect(session, 60.0)
    assert session.state == s.CONNECTED
    assert of(actions, s.StateChanged) == [s.StateChanged(s.HARD, s.CONNECTED)]
    assert [a.table for a in of(actions, s.SubscribeTable)] == [table]


def test_acknowledged_subscription_delivers_updates_of_its_connection():
    session = new_session()
    table = object()
    session.open_table(table)
    [sub] = of(connect(session, 0.0), s.SubscribeTable)
    update = m.Update(m.UpdateType.SNAPSHOT, 4, True, True, ())
    assert respond(session, 1.0, m.ProxyResponse(0, m.Notify(7, update))) == []  # not acked
    assert respond(session, 1.0, m.ProxyResponse(sub.request_id, m.Acknowledge(7))) == []
    assert session.subscription_id(table) == 7
    assert respond(session, 1.0, m.ProxyResponse(0, m.Notify(7, update))) == [
        s.Deliver(table, update, 1)]
    # After a reconnection the old subscription id means nothing.
    session.connection_lost(100.0)
    [sub] = of(connect(session, 100.0), s.SubscribeTable)
    assert sub.generation == 2 and session.subscription_id(table) is None
    assert respond(session, 101.0, m.ProxyResponse(0, m.Notify(7, update))) == []


def test_refused_table_reads_zookeeper():
    session = new_session()
    table = object()
    session.open_table(table)
    [sub] = of(connect(session, 0.0), s.SubscribeTable)
    refusal = m.ProxyResponse(sub.request_id, m.Error(m.ErrorCode.INVALID_ARGUMENT, "no"))
    assert respond(session, 1.0, refusal) == [s.ReadZooKeeper(table, "refused")]


def test_ended_subscription_resubscribes_after_the_soft_delay_unless_the_proxy_shuts_down():
    session = new_session()
    t1, t2 = object(), object()
    session.open_table(t1)
    session.open_table(t2)
    subs = of(connect(session, 0.0), s.SubscribeTable)
    respond(session, 0.0, *[m.ProxyResponse(a.request_id, m.Acknowledge(10 + i))
                            for i, a in enumerate(subs)])
    respond(session, 2.0,
            m.ProxyResponse(0, m.Notify(10, m.Completed(m.CompletedCode.NSDB_ERROR))),
            m.ProxyResponse(0, m.Notify(11, m.Completed(m.CompletedCode.SERVER_SHUTDOWN))))
    assert session.subscription_id(t1) is None and session.wakeup_at() == 3.0
    assert of(session.tick(2.5), s.SubscribeTable) == []
    assert [a.table for a in of(session.tick(3.0), s.SubscribeTable)] == [t1]


def test_idle_proxy_is_pinged_and_a_silent_one_dropped():
    session = new_session()
    connect(session, 0.0)
    assert session.wakeup_at() == 3.0
    assert [type(r.body) for r in requests(session.tick(3.0))] == [m.Ping]
    assert session.tick(4.0) == []  # pinged already
    respond(session, 5.0, m.ProxyResponse(1, m.Pong()))
    assert session.tick(8.0) != [] and session.wakeup_at() == 11.0
    actions = session.tick(14.0)  # nothing heard for read_timeout
    assert of(actions, s.Disconnect) and session.state == s.SOFT
    assert session.connection_lost(14.0) == []  # the transport noticing too changes nothing


def test_garbage_from_the_proxy_drops_the_connection():
    session = new_session()
    connect(session, 0.0)
    actions = session.received(1.0, b"\x03\xff\xff\xff")
    assert of(actions, s.Disconnect) and session.state == s.SOFT


def test_connection_dropped_at_once_counts_as_a_failed_attempt():
    session = new_session(s.SessionConfig(max_soft_reconnect_attempts=1,
                                          soft_reconnect_delay=1.0))
    session.open_table(table := object())
    connect(session, 0.0)
    session.connection_lost(0.1)
    assert session.attempts == 1 and session.wakeup_at() == 1.1
    connect(session, 1.1)
    actions = session.connection_lost(1.2)
    assert session.state == s.HARD and of(actions, s.ReadZooKeeper) == [
        s.ReadZooKeeper(table, "hard")]


def test_closing_a_subscribed_table_unsubscribes():
    session = new_session()
    session.open_table(table := object())
    [sub] = of(connect(session, 0.0), s.SubscribeTable)
    respond(session, 0.0, m.ProxyResponse(sub.request_id, m.Acknowledge(5)))
    [request] = requests(session.close_table(table))
    assert request.body == m.Unsubscribe(5)
    assert session.close_table(table) == []


def test_stopped_session_does_nothing_more():
    session = new_session()
    connect(session, 0.0)
    actions = session.stop()
    assert of(actions, s.Disconnect) and session.state == s.STOPPED
    assert session.tick(100.0) == [] and session.wakeup_at() is None
