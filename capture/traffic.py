"""What one capture's traffic left behind: exchanges, refusals, and the WARC made from them.

Filled by the egress proxy (capture/proxy.py); read by the engine for the manifest and traffic.warc.gz.
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

FIDELITY = "byte-faithful"
FIDELITY_NOTE = (
    "HTTP/1.1 on both sides of the recording proxy (HTTP/2 disabled, nothing mapped): request line, "
    "header names, values, order and case, and bodies with their Content-Encoding are as received. "
    "Header whitespace is normalised to 'Name: value' and chunked transfer framing is re-encoded as "
    "a single chunk. WebSocket messages are not recorded. Blocked requests are not recorded."
)


def utc_iso(ts: float) -> str:
    """ISO 8601 UTC with microseconds and Z."""
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Blocked:
    """One request the proxy refused."""

    url: str
    host: str
    port: int
    address: str | None  #: the resolved address that was refused, if it got that far
    reason: str  #: one English line
    code: str  #: stable: blocked_address, port, unresolvable, no_session, session_closed, over_limit, noise, proxy_loop
    at: str  #: ISO 8601 UTC

    def describe(self) -> dict[str, Any]:
        """The manifest's ``blocked_requests`` entry."""
        return {"url": self.url, "host": self.host, "port": self.port, "address": self.address,
                "reason": self.reason, "at": self.at}


@dataclass
class Exchange:
    """One HTTP request/response pair as the proxy saw it."""

    id: str
    url: str
    method: str
    request_line: bytes  #: e.g. b"GET /path HTTP/1.1"
    request_headers: list[tuple[bytes, bytes]]
    request_body: bytes = field(repr=False)
    http_version: str
    status: int
    reason: str
    response_headers: list[tuple[bytes, bytes]]
    response_body: bytes = field(repr=False)  #: as received (content-coded, de-chunked)
    started_at: str
    ended_at: str
    server_ip: str | None
    server_port: int | None
    tls: dict[str, Any] | None  #: {protocol, subject, issuer, not_before, not_after, serial, sha256}
    truncated: bool = False  #: body cut by max_bytes
    websocket_messages: int = 0

    def header(self, name: str) -> str | None:
        n = name.lower().encode()
        for k, v in self.response_headers:
            if k.lower() == n:
                return v.decode("latin-1")
        return None

    @property
    def headers(self) -> dict[str, str]:
        """Response headers as a dict (later duplicates joined with ', '), names lower-case."""
        out: dict[str, str] = {}
        for k, v in self.response_headers:
            key, val = k.decode("latin-1").lower(), v.decode("latin-1")
            out[key] = f"{out[key]}, {val}" if key in out else val
        return out


@dataclass
class MainExchange:
    """The document request and the redirects that led to it."""

    exchange: Exchange | None  #: the last hop that got a response from a server (None: first hop blocked)
    chain: list[dict[str, Any]]  #: [{url, status}] in order; a blocked hop has status 403 and "blocked": reason
    blocked: Blocked | None  #: set when the chain ended in a refused request

    @property
    def final_url(self) -> str | None:
        return self.chain[-1]["url"] if self.chain else None


@dataclass
class ProxyRecord:
    """Everything one session's traffic left behind."""

    exchanges: list[Exchange]
    blocked: list[Blocked]
    noise: list[Blocked]
    bytes_total: int
    over_limit: bool
    #: requests that were allowed but failed upstream: [{url, host, port, address, error, at}]
    #: (connection refused, upstream TLS certificate not trusted, ...)
    failed: list[dict[str, Any]] = field(default_factory=list)
    fidelity: str = FIDELITY
    fidelity_note: str = FIDELITY_NOTE
    in_flight_at_close: int = 0

    def main_exchange(self, url: str, max_hops: int = 20) -> MainExchange | None:
        """The exchange for document ``url``, following 3xx Location headers; None if never requested."""
        chain: list[dict[str, Any]] = []
        current, last = url, None
        for _ in range(max_hops):
            ex = self._find(current, document=True)
            if ex is None:
                b = next((b for b in self.blocked if _same_url(b.url, current)), None) or self._tunnel_block(current)
                if b is not None:
                    chain.append({"url": b.url, "status": 403, "blocked": b.reason})
                    return MainExchange(last, chain, b)
                return MainExchange(last, chain, None) if chain else None
            chain.append({"url": ex.url, "status": ex.status})
            last = ex
            location = ex.header("location")
            if not (300 <= ex.status < 400 and location):
                break
            current = urljoin(ex.url, location)
        return MainExchange(last, chain, None)

    def _tunnel_block(self, url: str) -> Blocked | None:
        """A refused CONNECT (https/wss) is listed as ``host:port``: match it by destination."""
        try:
            p = urlsplit(url)
            host, port = (p.hostname or "").rstrip("."), p.port or (443 if p.scheme in ("https", "wss") else 80)
        except ValueError:
            return None
        return next((b for b in self.blocked if b.url == f"{b.host}:{b.port}"
                     and b.host.strip("[]").rstrip(".").lower() == host and b.port == port), None)

    def redirect_chain(self, url: str) -> list[dict[str, Any]]:
        m = self.main_exchange(url)
        return m.chain if m else []

    def _find(self, url: str, document: bool) -> Exchange | None:
        matches = [e for e in self.exchanges if _same_url(e.url, url) and e.method in ("GET", "POST", "HEAD")]
        if document and len(matches) > 1:
            docs = [e for e in matches if _req_header(e, b"sec-fetch-dest") in (b"document", b"iframe", None)]
            matches = docs or matches
        return matches[0] if matches else None

    def manifest_fields(self, url: str) -> dict[str, Any]:
        """The URL-capture manifest keys this record can fill (capture-contract.md), for document ``url``.

        ``final_url``, ``redirect_chain``, ``http`` {status, headers}, ``server_ip``, ``tls``,
        ``blocked_requests``, ``warc`` {fidelity, records}. No floats.
        """
        main = self.main_exchange(url)
        ex = main.exchange if main else None
        final = ex is not None and main is not None and main.blocked is None
        tls = None
        if final and ex.tls:
            tls = {k: ex.tls[k] for k in ("subject", "issuer", "not_before", "not_after", "protocol")}
        return {
            "final_url": main.final_url if main else None,
            "redirect_chain": main.chain if main else [],
            "http": {"status": ex.status, "headers": ex.headers} if final else None,
            "server_ip": ex.server_ip if final else None,
            "tls": tls,
            "blocked_requests": [b.describe() for b in self.blocked],
            "warc": {"fidelity": self.fidelity, "records": 1 + 2 * len(self.exchanges)},
        }

    def warc_bytes(self, warcinfo: dict[str, Any] | None = None) -> bytes:
        """Gzipped WARC 1.1: warcinfo, then a response and a request record per exchange."""
        return _warc_bytes(self, dict(warcinfo or {}))


def _req_header(e: Exchange, name: bytes) -> bytes | None:
    return next((v for k, v in e.request_headers if k.lower() == name), None)


def _same_url(a: str, b: str) -> bool:
    return _norm_url(a) == _norm_url(b)


def _norm_url(u: str) -> str:
    try:
        p = urlsplit(u)
        host = (p.hostname or "").rstrip(".")
        port = p.port
    except ValueError:
        return u
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(p.scheme.lower())
    netloc = f"[{host}]" if ":" in host else host
    if port and port != default:
        netloc += f":{port}"
    path = quote(p.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(p.query, safe="/%:@!$&'()*+,;=-._~?")
    return urlunsplit((p.scheme.lower(), netloc.lower(), path, query, ""))


# -- WARC ----------------------------------------------------------------------------------------

def _warc_bytes(record: ProxyRecord, info: dict[str, Any]) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    class RawHeaders(StatusAndHeaders):
        """Keeps the header block bytes we give it (warcio would re-encode non-ASCII values)."""

        def __init__(self, raw: bytes, statusline: str, protocol: str):
            super().__init__(statusline, [], protocol=protocol)
            self.headers_buff = raw

        def compute_headers_buffer(self, header_filter: Any = None) -> None:
            return None

    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    info.setdefault("software", "Vaern egress proxy (mitmproxy)")
    info.setdefault("format", "WARC File Format 1.1")
    info.setdefault("fidelity", record.fidelity)
    info.setdefault("fidelity-note", record.fidelity_note)
    if record.blocked:
        info.setdefault("blocked-requests", str(len(record.blocked)))
    if record.over_limit:
        info.setdefault("over-limit", "true")
    writer.write_record(writer.create_warcinfo_record("traffic.warc.gz", {k: str(v) for k, v in info.items()}))
    for ex in record.exchanges:
        head = _head(f"{ex.http_version} {ex.status} {ex.reason}".encode("latin-1", "replace"), ex.response_headers)
        body = _frame(ex.response_headers, ex.response_body)
        warc_headers = {"WARC-Date": ex.started_at}
        if ex.server_ip:
            warc_headers["WARC-IP-Address"] = ex.server_ip
        if ex.truncated:
            warc_headers["WARC-Truncated"] = "length"
        resp = writer.create_warc_record(
            ex.url, "response", payload=io.BytesIO(body), length=len(body), warc_headers_dict=warc_headers,
            http_headers=RawHeaders(head, f"{ex.status} {ex.reason}", ex.http_version))
        writer.write_record(resp)
        req_head = _head(ex.request_line, ex.request_headers)
        req_body = _frame(ex.request_headers, ex.request_body)
        req = writer.create_warc_record(
            ex.url, "request", payload=io.BytesIO(req_body), length=len(req_body),
            warc_headers_dict={"WARC-Date": ex.started_at,
                               "WARC-Concurrent-To": resp.rec_headers.get_header("WARC-Record-ID")},
            http_headers=RawHeaders(req_head, ex.request_line.decode("latin-1").split(" ", 1)[-1], ""))
        writer.write_record(req)
    return out.getvalue()


def _head(first_line: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    return first_line + b"\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in headers) + b"\r\n"


def _frame(headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    chunked = any(k.lower() == b"transfer-encoding" and b"chunked" in v.lower() for k, v in headers)
    if not chunked:
        return body
    return (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
