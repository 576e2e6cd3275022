from midonet_ryu.datapath.flow_index import FlowIndex, FlowRecord


def rec(cookie, *tags):
    return FlowRecord(cookie, frozenset(tags), None)


def test_invalidate_returns_exactly_the_tagged_flows():
    index = FlowIndex()
    index.add(rec(1, "a", "b"))
    index.add(rec(2, "b"))
    index.add(rec(3, "c"))
    assert sorted(r.cookie for r in index.invalidate(["b"])) == [1, 2]
    assert len(index) == 1
    assert index.invalidate(["a", "b"]) == []
    assert [r.cookie for r in index.invalidate(["c"])] == [3]


def test_removed_flow_leaves_no_tag_behind():
    index = FlowIndex()
    index.add(rec(1, "a"))
    index.remove(1)
    assert index.tagged("a") == 0
    assert index.invalidate(["a"]) == []


def test_bounded_evicts_oldest():
    index = FlowIndex(max_flows=3)
    evicted = []
    for c in range(5):
        evicted += index.add(rec(c, f"t{c}"))
    assert evicted == [0, 1]
    assert len(index) == 3 and 4 in index and 0 not in index


def test_re_adding_a_cookie_replaces_its_tags():
    index = FlowIndex()
    index.add(rec(1, "a"))
    index.add(rec(1, "b"))
    assert index.invalidate(["a"]) == []
    assert [r.cookie for r in index.invalidate(["b"])] == [1]


def test_a_route_query_finds_covered_lookups_and_forgets_removed_flows():
    import uuid

    from midonet_ryu.simulation import tags as t

    router, other = uuid.uuid4(), uuid.uuid4()
    idx = FlowIndex()
    dst = 0x0A000205  # 10.0.2.5
    idx.add(FlowRecord(1, frozenset({t.routed(router, dst, 24)}), None))
    idx.add(FlowRecord(2, frozenset({t.routed(router, dst + 1, 32)}), None))
    idx.add(FlowRecord(3, frozenset({t.routed(other, dst, 24)}), None))
    wider = t.RoutesTo(router, 0x0A000200, 24)
    assert [r.cookie for r in idx.invalidate([wider])] == [1]  # not the /32, not router 2's
    assert idx.invalidate([wider]) == []
    assert [r.cookie for r in idx.invalidate([t.RoutesTo(router, dst + 1, 32, exact=True)])] == [2]
    assert list(idx._routed) == [other]  # the removed flows' lookups are forgotten
