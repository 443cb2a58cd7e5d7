"""Which URLs and addresses a capture may reach: the pre-flight check and the address rule.

``check_url`` is the fast pre-flight (refuse before any browser work); the security boundary is the
egress proxy (capture/proxy.py), which applies ``destination_refusal`` to the address it actually
connects to, for every connection the browser makes.

Port policy: only 80 and 443 (``ALLOWED_PORTS``) for public destinations, plus exact (host, port)
pairs from ``allowed_hosts``. Social-media posts and their CDNs are served on 443 (80 for the odd
redirect); allowing any port would let a submitted URL use Værn as a port scanner or talk to
non-HTTP services (SMTP, Redis, …) on public addresses that trust the municipality's egress IP.
A page that really needs another port fails visibly (the request shows up in ``blocked``).
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

from capture.errors import CaptureRefused

MAX_URL_LENGTH = 4096  #: longer URLs are refused (``too_long``); browsers accept ~2 MB, posts never need it
ALLOWED_PORTS = frozenset({80, 443})
SCHEMES = frozenset({"http", "https"})

#: Never reachable, whatever ``ipaddress`` flags say (``is_global`` is wrong for several on 3.11).
_BLOCKED_NETS = tuple(ipaddress.ip_network(n) for n in (
    # IPv4
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
    # IPv6
    "::/128", "::1/128", "::/96", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
    "2001::/32", "2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10",
    "fec0::/10", "ff00::/8",
))


def ip_allowed(addr: str) -> bool:
    """True if ``addr`` (IPv4/IPv6 text, optional ``%zone``) is a public unicast address a capture may reach."""
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0].strip("[]"))
    except ValueError:
        return False
    if ip.version == 6:
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return False if embedded is _BLOCK else ip_allowed(str(embedded))
    if any(ip in net for net in _BLOCKED_NETS):
        return False
    return (ip.is_global and not ip.is_multicast and not ip.is_reserved and not ip.is_private
            and not ip.is_link_local and not ip.is_loopback and not ip.is_unspecified)


_BLOCK = object()


def _embedded_ipv4(ip: ipaddress.IPv6Address):
    """The IPv4 address an IPv4-mapped IPv6 address carries; ``_BLOCK`` for the other IPv4-in-IPv6 forms.

    Mapped addresses (``::ffff:a.b.c.d``) are how dual-stack sockets write IPv4 peers, so they are
    judged as the IPv4 they stand for. NAT64, 6to4, Teredo and IPv4-compatible forms are tunnels to
    an IPv4 address chosen by whoever wrote the URL; they are refused outright.
    """
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None or ip.teredo is not None:
        return _BLOCK
    return None


def port_allowed(host: str, port: int, allowed_hosts: tuple[tuple[str, int], ...] = ()) -> bool:
    return port in ALLOWED_PORTS or is_allow_listed(host, port, allowed_hosts)


def is_allow_listed(host: str, port: int, allowed_hosts: tuple[tuple[str, int], ...]) -> bool:
    """Exact (host, port) match; hosts compare case-insensitively, without brackets or a trailing dot."""
    key = (_host_key(host), int(port))
    return any((_host_key(h), int(p)) == key for h, p in allowed_hosts)


def _is_local_name(host: str) -> bool:
    """``localhost`` and ``*.localhost``: Chromium answers these itself, without DNS."""
    key = _host_key(host)
    return key == "localhost" or key.endswith(".localhost")


def _host_key(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def destination_refusal(host: str, port: int, addresses: list[str],
                        allowed_hosts: tuple[tuple[str, int], ...] = ()) -> tuple[str, str] | None:
    """``None`` if ``host:port`` resolving to ``addresses`` may be reached, else ``(code, reason)``."""
    if is_allow_listed(host, port, allowed_hosts):
        return None
    if _is_local_name(host):
        return "blocked_address", f"host {host!r} is the local machine"
    bad = [a for a in addresses if not ip_allowed(a)]
    if bad:
        return "blocked_address", f"host {host!r} resolves to non-public address {bad[0]}"
    if port not in ALLOWED_PORTS:
        return "port", f"port {port} is not allowed (only {', '.join(map(str, sorted(ALLOWED_PORTS)))})"
    if not addresses:
        return "unresolvable", f"host {host!r} did not resolve"
    return None


def resolve(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to (getaddrinfo, like Chromium: also ``127.1``, ``0x7f.1``, ``2130706433``)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    out: list[str] = []
    for *_, sockaddr in infos:
        a = sockaddr[0]
        if a not in out:
            out.append(a)
    return out


def check_url(url: str, allowed_hosts: tuple[tuple[str, int], ...] = ()) -> str:
    """The normalised URL, or ``CaptureRefused(code, reason)`` if it may not be captured.

    Codes: ``too_long``, ``malformed``, ``scheme``, ``userinfo``, ``port``, ``unresolvable``,
    ``blocked_address``.
    """
    if not isinstance(url, str) or not url.strip():
        raise CaptureRefused("malformed", "no URL given")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise CaptureRefused("too_long", f"URL is longer than {MAX_URL_LENGTH} characters")
    if any(c in url for c in "\x00\t\r\n") or any(ord(c) < 0x20 or c == "\x7f" for c in url):
        raise CaptureRefused("malformed", "URL contains control characters")
    if "\\" in url.split("?", 1)[0].split("#", 1)[0]:
        raise CaptureRefused("malformed", "URL contains a backslash (browsers read it as a slash)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise CaptureRefused("malformed", f"URL cannot be parsed: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise CaptureRefused("scheme", f"only http and https URLs can be captured, not {scheme or 'no scheme'!r}")
    if not url[len(parts.scheme) + 1:].startswith("//"):
        raise CaptureRefused("malformed", "URL has no //host part")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise CaptureRefused("userinfo", "URLs with a user name or password (user@host) are refused")
    raw_host = parts.hostname
    if not raw_host:
        raise CaptureRefused("malformed", "URL has no host")
    host = _normalise_host(raw_host)
    if port is None:
        port = 443 if scheme == "https" else 80
    literal = _is_ip_literal(host)
    if _is_local_name(host) and not is_allow_listed(host, port, allowed_hosts):
        raise CaptureRefused("blocked_address", f"host {host!r} is the local machine")
    if not literal and not port_allowed(host, port, allowed_hosts):  # refuse before any DNS lookup
        raise CaptureRefused("port", f"port {port} is not allowed (only 80 and 443)")
    addresses = [host] if literal else resolve(host, port)
    refusal = destination_refusal(host, port, addresses, allowed_hosts)
    if refusal:
        raise CaptureRefused(*refusal)
    netloc_host = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    netloc = netloc_host if port == default else f"{netloc_host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, parts.fragment))


def _normalise_host(host: str) -> str:
    """Lower-case, IDNA (punycode) and canonical IP text, as the browser would send it."""
    host = host.strip("[]").lower()
    if ":" in host:  # IPv6 literal
        try:
            return str(ipaddress.IPv6Address(host.split("%", 1)[0]))
        except ValueError:
            raise CaptureRefused("malformed", f"invalid IPv6 address {host!r}") from None
    if any(c in host for c in " %/?#<>^|\"'`{}"):
        raise CaptureRefused("malformed", f"invalid host {host!r}")
    if not host.isascii():  # IDNA first: full-width digits and ideographic dots become ASCII here
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise CaptureRefused("malformed", f"host {host!r} is not a valid internationalised domain name") from None
    if _looks_numeric(host):
        # WHATWG/Chromium read 2130706433, 0x7f.1, 127.1 and 0177.0.0.1 as IPv4: so do we.
        try:
            return socket.inet_ntoa(socket.inet_aton(host.rstrip(".")))
        except OSError:
            raise CaptureRefused("malformed", f"invalid IPv4 address {host!r}") from None
    labels = host.split(".")
    if any(len(label) > 63 for label in labels) or len(host) > 253 or "" in labels[:-1]:
        raise CaptureRefused("malformed", f"invalid host name {host!r}")
    return host


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _looks_numeric(host: str) -> bool:
    last = host.rstrip(".").rsplit(".", 1)[-1]
    return bool(last) and (last.isdigit() or (last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:])))
