"""A port's status change alone is not sent to the cluster: it translates
into nothing, and ports on their way to ACTIVE would each cost a write."""
from networking_midonet_ryu.ml2.mech_driver import _only_status_changed

PORT = {"id": "p", "status": "DOWN", "revision_number": 3, "updated_at": "t1",
        "binding:host_id": "hv1", "fixed_ips": [{"ip_address": "192.0.2.5"}]}


def test_status_revision_and_timestamp_alone_are_not_a_change():
    assert _only_status_changed(PORT, dict(PORT, status="ACTIVE", revision_number=4,
                                           updated_at="t2"))


def test_anything_else_is():
    assert not _only_status_changed(PORT, dict(PORT, status="ACTIVE",
                                               **{"binding:host_id": "hv2"}))
    assert not _only_status_changed(PORT, dict(PORT, fixed_ips=[]))
    assert not _only_status_changed(None, PORT)
