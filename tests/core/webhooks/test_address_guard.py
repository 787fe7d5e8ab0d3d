"""The webhook address guard: no delivery goes to an address that is not globally reachable,
by the IANA special-purpose address registries for IPv4 and IPv6 (each entry is refused, shown
by an address inside it), nor to an IPv6 address carrying such an IPv4 address (IPv4-mapped,
IPv4-compatible, NAT64, 6to4, Teredo); public addresses stay allowed. The same rule refuses
an endpoint's URL naming such an address, on the fakes and on PostgreSQL."""

from __future__ import annotations

import ipaddress

import pytest

from orderly_core.shared.errors import InvalidInput
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.endpoints import NewEndpoint, register_endpoint
from orderly_core.webhooks.policy import (
    EMBEDDING_IPV4,
    NON_PUBLIC_IPV4,
    NON_PUBLIC_IPV6,
    is_public_address,
)
from tests.core.helpers import ctx, err, fresh

# One address (or more) inside each not globally reachable entry of the registries.
NON_PUBLIC = [
    # IPv4 Special-Purpose Address Registry, multicast and the deprecated 6to4 relay block
    "0.1.2.3",
    "10.0.0.7",
    "100.64.0.1",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",
    "172.31.255.254",
    "192.0.0.8",
    "192.0.0.9",  # PCP anycast: reaches the sender's own network
    "192.0.0.170",
    "192.0.2.10",
    "192.88.99.1",
    "192.168.1.20",
    "198.19.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.1.2.3",
    "240.0.0.1",
    "255.255.255.255",
    # IPv6 Special-Purpose Address Registry, site-local and multicast
    "::",
    "::1",
    "64:ff9b:1::808:808",  # local-use translation, whatever it carries
    "100::1",
    "100:0:0:1::1",
    "2001:1::1",  # PCP anycast, inside the IETF protocol assignments
    "2001:3::1",
    "2001:2::1",
    "2001:10::1",
    "2001:db8::1",
    "3fff::1",
    "5f00::1",
    "fd12:3456::1",
    "fc00::1",
    "fe80::1",
    "fe80::1%eth0",
    "fec0::1",
    "feff::1",
    "ff02::1",
    "ff0e::1",
    # outside global unicast (2000::/3)
    "1::1",
    "4000::1",
    "e000::1",
]


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_addresses_the_registries_do_not_call_globally_reachable_are_refused(
    address: str,
) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


def test_every_entry_of_the_tables_is_shown_refused_above() -> None:
    shown = [ipaddress.ip_address(a) for a in NON_PUBLIC]
    for block, name in (*NON_PUBLIC_IPV4, *NON_PUBLIC_IPV6):
        network = ipaddress.ip_network(block)
        assert any(a.version == network.version and a in network for a in shown), (block, name)


# Teredo: 2001:0:<server IPv4>:<flags>:<port>:<client IPv4 with every bit inverted>. The
# server 65.54.227.120 is 4136:e378; 8.8.8.8 inverted is f7f7:f7f7, 127.0.0.1 is 80ff:fffe,
# 169.254.169.254 is 5601:5601, 10.0.0.1 is 0a00:0001.
CARRYING_PUBLIC = [
    "::ffff:8.8.8.8",
    "::8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",
    "2002:808:808:1:2:3:4:5",
    "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
]
CARRYING_NON_PUBLIC = [
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",
    "::169.254.169.254",
    "::192.168.1.20",
    "64:ff9b::127.0.0.1",
    "64:ff9b::169.254.169.254",
    "64:ff9b::100.64.0.1",
    "2002:7f00:1::",
    "2002:7f00:1::1",
    "2002:a9fe:a9fe::",
    "2002:a9fe:a9fe:1::8.8.8.8",
    "2002:c0a8:114::1",
    "2002:c000:20a::1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",
    "2001:0:4136:e378:8000:63bf:5601:5601",
    "2001:0:a00:1:8000:63bf:f7f7:f7f7",  # the Teredo server is private
]


@pytest.mark.parametrize("address", CARRYING_PUBLIC)
def test_an_ipv6_address_carrying_a_public_ipv4_address_is_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", CARRYING_NON_PUBLIC)
def test_an_ipv6_address_carrying_a_non_public_ipv4_address_is_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


def test_every_form_carrying_ipv4_is_shown_both_ways_above() -> None:
    for carrying in (CARRYING_PUBLIC, CARRYING_NON_PUBLIC):
        shown = [ipaddress.IPv6Address(a) for a in carrying]
        for block, name, _ in EMBEDDING_IPV4:
            network = ipaddress.IPv6Network(block)
            assert any(a in network for a in shown), (block, name)


PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "192.31.196.1",  # AS112, globally reachable by the registry
    "192.52.193.1",  # AMT, globally reachable by the registry
    "2001:4860:4860::8888",
    "2606:4700::1111",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "2620:4f:8000::1",  # AS112, globally reachable by the registry
]


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "https://[2002:7f00:1::]/hook",
        "https://[2002:a9fe:a9fe::]/latest/meta-data",
        "https://[fec0::1]/hook",
        "https://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "https://[64:ff9b:1::808:808]/hook",
        "https://[::127.0.0.1]/hook",
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
        "https://[2001:db8::1]/hook",
        "https://192.0.2.10/hook",
        "https://198.18.0.1/hook",
        "https://192.88.99.1/hook",
    ],
)
async def test_an_endpoint_url_naming_a_non_public_address_is_refused(
    deps: Dependencies, url: str
) -> None:
    error = err(await register_endpoint(deps, ctx(), NewEndpoint(url, ("order.placed",))))

    assert isinstance(error, InvalidInput)
    assert [(e.field, "not public" in e.message) for e in error.errors] == [("url", True)]


@pytest.mark.parametrize(
    "url",
    ["https://[2002:808:808::1]/hook", "https://[64:ff9b::808:808]/hook"],
)
async def test_an_endpoint_url_naming_a_form_carrying_a_public_address_is_accepted(
    deps: Dependencies, url: str
) -> None:
    registered = fresh(await register_endpoint(deps, ctx(), NewEndpoint(url, ("order.placed",))))

    assert registered.endpoint.url == url
