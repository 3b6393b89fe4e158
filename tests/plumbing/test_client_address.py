"""The client's address: X-Forwarded-For only counts when it came through a trusted proxy."""

from __future__ import annotations

import ipaddress

import pytest

from plumbing.client_address import client_address, throttle_source
from plumbing.settings import SettingsError, load_settings
from tests.conftest import ROOT

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ffff::1"))


def test_without_a_trusted_peer_the_header_is_ignored():
    assert client_address("203.0.113.5", "192.0.2.1", TRUSTED) == "203.0.113.5"
    assert client_address("203.0.113.5", "192.0.2.1", ()) == "203.0.113.5"


def test_the_header_is_walked_from_the_right_past_trusted_proxies():
    forwarded = "192.0.2.99, 198.51.100.7, 10.1.1.1"  # forged, client, inner proxy
    assert client_address("10.0.0.2", forwarded, TRUSTED) == "198.51.100.7"
    assert client_address("2001:db8:ffff::1", "2001:db8:1::5", TRUSTED) == "2001:db8:1::5"


def test_a_trusted_peer_without_or_with_a_broken_header_is_the_client():
    assert client_address("10.0.0.2", None, TRUSTED) == "10.0.0.2"
    assert client_address("10.0.0.2", "", TRUSTED) == "10.0.0.2"
    assert client_address("10.0.0.2", "unknown, 10.1.1.1", TRUSTED) == "10.1.1.1"


def test_when_every_hop_is_trusted_the_leftmost_is_the_client():
    assert client_address("10.0.0.2", "10.5.5.5, 10.1.1.1", TRUSTED) == "10.5.5.5"


def test_ipv6_clients_are_throttled_by_their_64_network():
    assert throttle_source("2001:db8:1:2:aaaa::1") == throttle_source("2001:db8:1:2:bbbb::9")
    assert throttle_source("2001:db8:1:2::1") != throttle_source("2001:db8:1:3::1")
    assert throttle_source("203.0.113.5") == "203.0.113.5"
    assert throttle_source("::ffff:203.0.113.5") == "203.0.113.5"


def test_trusted_proxies_come_from_the_environment():
    settings = load_settings(
        ROOT / "config.toml",
        env={"TONGDAI_SECRET_KEY": "k", "TONGDAI_TRUSTED_PROXIES": " 10.0.0.2, 172.16.0.0/12 "},
    )
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.2/32"),
        ipaddress.ip_network("172.16.0.0/12"),
    )
    assert (
        load_settings(ROOT / "config.toml", env={"TONGDAI_SECRET_KEY": "k"}).trusted_proxies == ()
    )


def test_a_wrong_trusted_proxy_stops_the_start_in_one_line():
    with pytest.raises(SettingsError, match="TONGDAI_TRUSTED_PROXIES: 'proxy.local'"):
        load_settings(
            ROOT / "config.toml",
            env={"TONGDAI_SECRET_KEY": "k", "TONGDAI_TRUSTED_PROXIES": "10.0.0.2,proxy.local"},
        )
