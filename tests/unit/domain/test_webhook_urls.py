"""Which webhook URLs may be called: a table of hostile ones, every address family and disguise."""

from __future__ import annotations

import ipaddress

import pytest
from bulksms.domain.webhook_urls import UnsafeUrl, check_addresses, parse, refusal

REFUSED_ADDRESSES = [
    "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1",
    "169.254.169.254", "169.254.170.2", "100.64.0.1", "0.0.0.0", "224.0.0.251", "239.255.255.250",
    "240.0.0.1", "255.255.255.255", "192.0.0.1", "192.0.2.1", "198.18.0.1", "198.51.100.1",
    "203.0.113.1", "::", "::1", "fe80::1", "fec0::1", "fc00::1", "fd00:ec2::254", "ff02::1",
    "ff05::1:3", "2001:db8::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
    "::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "2002:7f00:1::1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",
]  # fmt: skip
PUBLIC_ADDRESSES = ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"]


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_non_public_addresses_are_refused_with_a_reason(address: str) -> None:
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None and reason.startswith(str(ipaddress.ip_address(address))), (address, reason)


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com/", "https"),
        ("HTTP://example.com/", "https"),
        ("ftp://example.com/", "https"),
        ("example.com/hook", "https"),
        ("https:///path", "no host"),
        ("https://user:pw@example.com/", "credentials"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://example.com/#frag", "fragment"),
    ],
)
def test_urls_that_are_not_plain_https_are_refused(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why):
        parse(url)


def test_parse_keeps_what_the_request_needs() -> None:
    url = parse("https://Hooks.Example.COM.:8443/bulk/sms?tenant=7")
    assert (url.host, url.port, url.target, url.host_header) == (
        "hooks.example.com", 8443, "/bulk/sms?tenant=7", "hooks.example.com:8443"
    )  # fmt: skip
    v6 = parse("https://[2606:4700::1]/")
    assert (v6.host, v6.port, v6.target, v6.host_header) == ("2606:4700::1", 443, "/", "[2606:4700::1]")


def test_one_bad_address_among_good_ones_refuses_the_host() -> None:
    url = parse("https://hooks.example.com/")
    assert check_addresses(url, ["93.184.215.14", "2606:4700::1"], ()) == "93.184.215.14"
    with pytest.raises(UnsafeUrl, match=r"10\.0\.0\.1 is a private address"):
        check_addresses(url, ["93.184.215.14", "10.0.0.1"], ())
    with pytest.raises(UnsafeUrl, match="no address"):
        check_addresses(url, [], ())


def test_an_allowed_host_skips_the_address_check_for_that_host_only() -> None:
    assert check_addresses(parse("https://127.0.0.1:8443/"), ["127.0.0.1"], {"127.0.0.1"}) == "127.0.0.1"
    with pytest.raises(UnsafeUrl, match="loopback"):
        check_addresses(parse("https://localhost/"), ["127.0.0.1"], {"127.0.0.1"})
