from __future__ import annotations

import pytest

from monitor.errors import FetchError
from monitor.ingest import netguard


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("127.255.0.9", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("172.31.255.255", False),
        ("172.32.0.1", True),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("100.100.100.200", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("::", False),
        ("fc00::1", False),
        ("fd00:ec2::254", False),
        ("fe80::1", False),
        ("fe80::1%lo", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:93.184.216.34", True),
        ("not an address", False),
    ],
)
def test_is_public(ip: str, public: bool) -> None:
    assert netguard.is_public(ip) is public


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", [netguard.Address("127.0.0.1", False)]),
        ("::1", [netguard.Address("::1", False)]),
        ("localhost", None),
    ],
)
def test_system_resolve(host: str, expected: list[netguard.Address] | None) -> None:
    addresses = netguard.system_resolve(host, 80)
    if expected is not None:
        assert addresses == expected
    assert addresses and not any(address.public for address in addresses)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://public.test/feed.xml", None),
        ("http://public.test:8080/feed.xml", None),
        ("http://intranet.test/feed.xml", "blocked"),
        ("http://127.0.0.1/feed.xml", "blocked"),
        ("http://[::1]:8080/feed.xml", "blocked"),
        ("http://169.254.169.254/latest/meta-data/", "blocked"),
        ("http://999.1.1.1/", "blocked"),
        ("javascript:alert(1)", "blocked"),
        ("http://nowhere.test/feed.xml", "dns"),
    ],
)
def test_require_public(monkeypatch: pytest.MonkeyPatch, url: str, kind: str | None) -> None:
    public, private = netguard.Address("93.184.216.34", True), netguard.Address("10.0.0.7", False)
    fixed = {"public.test": [public], "intranet.test": [public, private]}  # one private address is enough

    def resolve(host: str, port: int) -> list[netguard.Address]:
        if host == "nowhere.test":
            raise OSError("Name or service not known")
        return fixed.get(host) or netguard.system_resolve(host, port)

    monkeypatch.setattr(netguard, "resolve", resolve)
    if kind is None:
        netguard.require_public(url, 2.0)
        return
    with pytest.raises(FetchError) as caught:
        netguard.require_public(url, 2.0)
    assert caught.value.kind == kind
