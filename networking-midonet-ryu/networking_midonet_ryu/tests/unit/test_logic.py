"""Small pure pieces: the port status feed, the hosts cache, subnet checks, reports."""

from __future__ import annotations

from typing import Any

import pytest

from networking_midonet_ryu.client import Unavailable
from networking_midonet_ryu.journal.status import PortStatusFeed
from networking_midonet_ryu.ml2.hosts import HostCache
from networking_midonet_ryu.ml2.mech_driver import IPV4_ONLY, unsupported_subnet
from networking_midonet_ryu.sync import format_report

# -- port status feed ------------------------------------------------------------


def test_first_answer_is_a_reset_whatever_it_says() -> None:
    feed = PortStatusFeed()
    changes = feed.apply({'cursor': 'c1', 'reset': False, 'active': ['a', 'b']})
    assert changes.reset
    assert changes.active == {'a', 'b'}
    assert feed.active == {'a', 'b'}
    assert feed.cursor == 'c1'


def test_changes_fold_into_the_active_set() -> None:
    feed = PortStatusFeed()
    feed.apply({'cursor': 'c1', 'active': ['a', 'b']})
    changes = feed.apply({'cursor': 'c2', 'reset': False, 'active': ['c'], 'inactive': ['a']})
    assert not changes.reset
    assert (changes.active, changes.inactive) == ({'c'}, {'a'})
    assert feed.active == {'b', 'c'}


def test_a_port_both_inactive_and_active_ended_active() -> None:
    feed = PortStatusFeed()
    feed.apply({'cursor': 'c1', 'active': []})
    changes = feed.apply({'cursor': 'c2', 'active': ['a'], 'inactive': ['a', 'b']})
    assert (changes.active, changes.inactive) == ({'a'}, {'b'})
    assert feed.active == {'a'}


def test_a_reset_replaces_the_active_set() -> None:
    feed = PortStatusFeed()
    feed.apply({'cursor': 'c1', 'active': ['a', 'b']})
    changes = feed.apply({'cursor': 'c9', 'reset': True, 'active': ['c'], 'inactive': ['a']})
    assert changes.reset and changes.inactive == frozenset()
    assert feed.active == {'c'}


def test_an_empty_answer_is_empty() -> None:
    feed = PortStatusFeed()
    feed.apply({'cursor': 1, 'active': []})
    assert feed.cursor == '1'
    assert feed.apply({'cursor': 2, 'active': [], 'inactive': []}).empty
    assert not feed.apply({'cursor': 3, 'inactive': ['a']}).empty


@pytest.mark.parametrize('answer', [None, [], {}, {'cursor': 'c2', 'active': 'a'},
                                    {'cursor': 'c2', 'inactive': [1]}, {'cursor': None}])
def test_a_malformed_answer_changes_nothing(answer: Any) -> None:
    feed = PortStatusFeed()
    feed.apply({'cursor': 'c1', 'active': ['a']})
    with pytest.raises(ValueError):
        feed.apply(answer)
    assert (feed.cursor, feed.active) == ('c1', {'a'})


# -- hosts cache -----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Fetch:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_hosts_are_cached_for_the_ttl() -> None:
    clock, fetch = Clock(), Fetch([{'name': 'hv1', 'alive': True}])
    cache = HostCache(fetch, ttl=10, clock=clock)
    assert cache.knows('hv1')
    clock.now += 9
    assert cache.knows('hv1')
    assert fetch.calls == 1
    clock.now += 1
    assert cache.knows('hv1')
    assert fetch.calls == 2


def test_a_miss_fetches_again_but_not_more_than_once_a_second() -> None:
    clock = Clock()
    fetch = Fetch([{'name': 'hv1'}], [{'name': 'hv1'}, {'name': 'hv2'}])
    cache = HostCache(fetch, ttl=10, min_refresh=1, clock=clock)
    assert not cache.knows('hv2')
    assert not cache.knows('hv2')  # same second: from the cache
    assert fetch.calls == 1
    clock.now += 1
    assert cache.knows('hv2')  # an agent registered meanwhile
    assert fetch.calls == 2


def test_no_answer_no_verdict() -> None:
    clock = Clock()
    cache = HostCache(Fetch(Unavailable('down')), clock=clock)
    with pytest.raises(Unavailable):
        cache.knows('hv1')
    with pytest.raises(Unavailable):
        HostCache(Fetch({'not': 'a list'}), clock=clock).knows('hv1')


# -- subnets -----------------------------------------------------------------------


def subnet(**fields: Any) -> dict[str, Any]:
    return {'ip_version': 4, 'cidr': '10.0.0.0/24', 'dns_nameservers': [],
            'host_routes': [], **fields}


def test_ipv4_subnets_pass() -> None:
    assert unsupported_subnet(subnet(dns_nameservers=['192.0.2.53'], host_routes=[
        {'destination': '198.51.100.0/24', 'nexthop': '10.0.0.254'}])) is None


def test_ipv6_subnets_are_refused() -> None:
    assert unsupported_subnet(subnet(ip_version=6, cidr='2001:db8::/64')) == IPV4_ONLY
    assert IPV4_ONLY == 'midonet-ryu supports IPv4 subnets only'


def test_ipv6_dhcp_options_on_an_ipv4_subnet_are_refused() -> None:
    assert IPV4_ONLY in unsupported_subnet(subnet(dns_nameservers=['2001:db8::53']))
    assert IPV4_ONLY in unsupported_subnet(subnet(host_routes=[
        {'destination': '2001:db8:1::/64', 'nexthop': '2001:db8::1'}]))


# -- reports -----------------------------------------------------------------------


def test_format_report() -> None:
    text = format_report({'created': ['ports/p1'], 'updated': [], 'deleted': ['networks/n9'],
                          'failed': [{'resource': 'subnets/s6', 'reason': 'IPv6'}]},
                         dry_run=True)
    assert text.splitlines() == [
        'would be created: 1', '  ports/p1', 'would be updated: 0', 'would be deleted: 1',
        '  networks/n9', 'would be failed: 1', '  subnets/s6: IPv6']
    assert format_report('oops').startswith('unexpected answer')
