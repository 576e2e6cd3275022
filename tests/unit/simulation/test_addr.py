"""Dotted IPv4 text to ints and back: exact, and strict about what it accepts."""
import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from midonet_ryu.simulation.addr import int_to_ip, ip_to_int


@given(st.integers(0, 2**32 - 1))
def test_round_trip_matches_the_c_library(value):
    text = socket.inet_ntoa(struct.pack("!I", value))
    assert int_to_ip(value) == text
    assert ip_to_int(text) == value


@pytest.mark.parametrize("bad", ["1.2.3", "1.2.3.4.5", "1.2.3.256", "01.2.3.4", "1..2.3",
                                 " 1.2.3.4", "1.2.3.4 ", "a.b.c.d", "", "١.2.3.4", None, 7])
def test_anything_but_four_decimal_octets_is_refused(bad):
    with pytest.raises(ValueError):
        ip_to_int(bad)
