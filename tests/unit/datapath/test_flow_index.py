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
