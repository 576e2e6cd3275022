"""The hand-packed deletes are the same bytes OS-Ken would send."""
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from midonet_ryu.datapath.messages import delete_by_cookie


class _FakeDatapath:
    ofproto = ofp
    ofproto_parser = parser


def _osken_delete(cookie, table_id, xid):
    msg = parser.OFPFlowMod(_FakeDatapath(), cookie=cookie, cookie_mask=(1 << 64) - 1,
                            table_id=table_id, command=ofp.OFPFC_DELETE,
                            out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
                            match=parser.OFPMatch())
    msg.set_xid(xid)
    msg.serialize()
    return bytes(msg.buf)


def test_delete_by_cookie_matches_osken_serialization():
    cookies = [0x0300010000000001, 0x03000100000000FF, 0]
    data, count = delete_by_cookie(cookies, 1, 77)
    assert count == 3
    expected = b"".join(_osken_delete(c, 1, 77 + i) for i, c in enumerate(cookies))
    assert data == expected
