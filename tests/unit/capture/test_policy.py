"""The pre-flight URL check and the address rule (no network needed: IP literals and localhost only)."""
import pytest

from capture import policy
from capture.errors import CaptureRefused
from capture.policy import check_url, destination_refusal, ip_allowed

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2a00:1450:4001:80b::200e"


def refused(url, allowed=()):
    with pytest.raises(CaptureRefused) as info:
        check_url(url, allowed)
    assert info.value.reason and "\n" not in info.value.reason
    return info.value.code


@pytest.mark.parametrize("addr", [
    "127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "0.0.0.0", "0.1.2.3", "100.64.0.1", "100.127.255.255", "169.254.169.254", "169.254.0.1",
    "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250",
    "240.0.0.1", "255.255.255.255",
    "::", "::1", "fe80::1", "fe80::1%eth0", "fc00::1", "fd00:ec2::254", "fec0::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
    "64:ff9b::a00:1", "64:ff9b::808:808", "64:ff9b:1::1", "2002:a00:1::", "2002:808:808::1",
    "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "100::1",
    "not an address", "", "1.2.3", "[::1]",
])
def test_non_public_and_tunnelled_addresses_are_not_allowed(addr):
    assert not ip_allowed(addr)


@pytest.mark.parametrize("addr", [PUBLIC_V4, "8.8.8.8", "1.1.1.1", PUBLIC_V6, "::ffff:8.8.8.8"])
def test_public_unicast_addresses_are_allowed(addr):
    assert ip_allowed(addr)


def test_is_global_is_not_trusted_alone():
    # Python 3.11 calls these global; Værn does not.
    for addr in ("224.0.0.1", "192.0.0.8", "fec0::1", "::127.0.0.1", "64:ff9b::a00:1", "2002:a00:1::"):
        assert not ip_allowed(addr), addr


@pytest.mark.parametrize("url", [
    "http://2130706433/", "http://0x7f000001/", "http://0x7f.1/", "http://127.1/", "http://0177.0.0.1/",
    "http://017700000001/", "http://127.0.0.1/", "http://127.0.0.2/", "http://0/", "http://0.0.0.0/",
    "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[64:ff9b::a00:1]/",
    "http://[2002:a00:1::]/", "http://[2001::1]/", "http://[fe80::1]/", "http://[fd00:ec2::254]/",
    "http://100.64.0.1/", "http://224.0.0.1/", "http://localhost/", "http://LOCALHOST/",
    "http://localhost./", "http://foo.localhost/", "https://127.0.0.1/", "http://127.0.0.1./",
    "http://127\u30020\u30020\u30021/", "http://\uff11\uff12\uff17.0.0.1/", "http://0x7f\u30021/",
])
def test_loopback_private_and_obfuscated_hosts_are_refused(url):
    assert refused(url) == "blocked_address"


@pytest.mark.parametrize("url", [
    "http://evil@127.0.0.1/", "http://facebook.com@10.0.0.1/", "https://user:pw@facebook.com/",
    "http://:@127.0.0.1/", "http://a%40b@8.8.8.8/",
])
def test_userinfo_is_refused(url):
    assert refused(url) == "userinfo"


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://8.8.8.8/",
    "gopher://8.8.8.8/", "ws://8.8.8.8/", "chrome://settings", "about:blank", "view-source:http://8.8.8.8/",
    "//8.8.8.8/", "8.8.8.8/path",
])
def test_other_schemes_are_refused(url):
    assert refused(url) == "scheme"


@pytest.mark.parametrize("url", [
    "", "   ", "http://", "http:///path", "http:8.8.8.8", "http://8.8.8.8:99999/", "http://8.8.8.8:-1/",
    "http://8.8.8.8:abc/", "http://[::1/", "http://8.8.8.8\\@127.0.0.1/", "http://8.8.8.8/a\nb",
    "http://exa mple.com/", "http://0x7g.1/", "http://256.256.256.256/", "http://" + "a" * 64 + ".com/",
    "http://a..b/",
])
def test_malformed_urls_are_refused(url):
    assert refused(url) == "malformed"


def test_overlong_urls_are_refused():
    assert refused(f"http://{PUBLIC_V4}/" + "a" * policy.MAX_URL_LENGTH) == "too_long"


@pytest.mark.parametrize("url", [f"http://{PUBLIC_V4}:22/", f"https://{PUBLIC_V4}:8443/", "http://8.8.8.8:6379/"])
def test_ports_other_than_80_and_443_are_refused(url):
    assert refused(url) == "port"


def test_public_ip_urls_are_normalised():
    assert check_url(f"HTTP://{PUBLIC_V4}") == f"http://{PUBLIC_V4}/"
    assert check_url(f"https://{PUBLIC_V4}:443/a?b=c#d") == f"https://{PUBLIC_V4}/a?b=c#d"
    assert check_url(f"http://{PUBLIC_V4}:80/x") == f"http://{PUBLIC_V4}/x"
    assert check_url(f"http://[{PUBLIC_V6.upper()}]/") == f"http://[{PUBLIC_V6}]/"
    decimal = int.from_bytes(bytes(int(p) for p in PUBLIC_V4.split(".")), "big")
    assert check_url(f"http://{decimal}/") == f"http://{PUBLIC_V4}/"  # as Chromium reads it


def test_localhost_is_refused_even_without_resolution(monkeypatch):
    monkeypatch.setattr(policy, "resolve", lambda host, port: [])
    assert refused("http://localhost/") == "blocked_address"


def test_unresolvable_hosts_are_refused(monkeypatch):
    monkeypatch.setattr(policy, "resolve", lambda host, port: [])
    assert refused("https://no-such-host.invalid/") == "unresolvable"


def test_any_private_address_among_several_refuses_the_host(monkeypatch):
    monkeypatch.setattr(policy, "resolve", lambda host, port: [PUBLIC_V4, "10.0.0.1"])
    assert refused("https://dual.example/") == "blocked_address"


def test_idna_host_names_are_sent_as_punycode(monkeypatch):
    seen = []
    monkeypatch.setattr(policy, "resolve", lambda host, port: seen.append(host) or [PUBLIC_V4])
    assert check_url("https://Bücher.Example/ø?q=æ") == "https://xn--bcher-kva.example/ø?q=æ"
    assert seen == ["xn--bcher-kva.example"]


def test_unicode_spellings_of_ip_addresses_are_canonicalised_like_chromium_does():
    allowed = (("127.0.0.1", 8123),)
    assert check_url("http://127\u30020\u30020\u30021:8123/", allowed) == "http://127.0.0.1:8123/"
    assert check_url("http://0x7f\uff0e1:8123/", allowed) == "http://127.0.0.1:8123/"


def test_idna_hosts_resolving_to_private_addresses_are_refused(monkeypatch):
    monkeypatch.setattr(policy, "resolve", lambda host, port: ["127.0.0.1"])
    assert refused("https://bücher.example/") == "blocked_address"


def test_trailing_dot_hosts_keep_their_dot_and_are_checked(monkeypatch):
    monkeypatch.setattr(policy, "resolve", lambda host, port: [PUBLIC_V4] if host == "facebook.com." else [])
    assert check_url("https://facebook.com./x") == "https://facebook.com./x"
    assert refused("http://127.0.0.1./") == "blocked_address"


def test_allow_list_is_exact_host_and_port():
    allowed = (("127.0.0.1", 8123),)
    assert check_url("http://127.0.0.1:8123/page", allowed) == "http://127.0.0.1:8123/page"
    assert refused("http://127.0.0.1:8124/", allowed) == "blocked_address"
    assert refused("http://127.0.0.1/", allowed) == "blocked_address"
    assert refused("http://127.0.0.2:8123/", allowed) == "blocked_address"
    assert refused("http://localhost:8123/", allowed) == "blocked_address"


def test_allow_listed_host_names_match_case_insensitively():
    assert check_url("http://LocalHost:8123/", (("localhost", 8123),)) == "http://localhost:8123/"
    assert refused("http://localhost:8124/", (("localhost", 8123),)) == "blocked_address"


def test_numeric_forms_of_an_allow_listed_address_are_the_same_destination():
    # Chromium canonicalises 2130706433 to 127.0.0.1 before it sends anything; so does check_url.
    assert check_url("http://2130706433:8123/", (("127.0.0.1", 8123),)) == "http://127.0.0.1:8123/"
    assert refused("http://2130706433:8124/", (("127.0.0.1", 8123),)) == "blocked_address"


def test_destination_refusal_names_the_bad_address():
    code, reason = destination_refusal("x.example", 443, [PUBLIC_V4, "10.0.0.1"])
    assert code == "blocked_address" and "10.0.0.1" in reason
    assert destination_refusal("x.example", 443, [PUBLIC_V4]) is None
    assert destination_refusal("x.example", 8080, [PUBLIC_V4])[0] == "port"
    assert destination_refusal("x.example", 443, [])[0] == "unresolvable"
