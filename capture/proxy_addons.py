"""The egress proxy's policy: the mitmproxy addon that attributes, judges, pins and records every flow.

capture/proxy.py is the runtime (ports, sessions, the mitmproxy master on its own thread); this module
is what it enforces, so the rules can be read (and reviewed) apart from the machinery. The threat model
is in capture/proxy.py's docstring.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from typing import TYPE_CHECKING, Any

from capture.policy import destination_refusal, resolve
from capture.traffic import Blocked, Exchange, utc_iso

if TYPE_CHECKING:
    from capture.proxy import ProxySession

log = logging.getLogger(__name__)

BLOCK_HEADER = "X-Vaern-Blocked"
#: Chromium background services; denied, and listed as noise rather than as blocked evidence requests.
NOISE_HOSTS = frozenset({
    "update.googleapis.com", "accounts.google.com", "clients1.google.com", "clients2.google.com",
    "clients4.google.com", "clientservices.googleapis.com", "safebrowsing.googleapis.com",
    "sb-ssl.google.com", "optimizationguide-pa.googleapis.com", "content-autofill.googleapis.com",
    "redirector.gvt1.com", "edgedl.me.gvt1.com", "dl.google.com", "android.clients.google.com",
    "chromesyncpasswords-pa.googleapis.com", "passwordsleakcheck-pa.googleapis.com",
})


class PolicyAddon:
    """mitmproxy hooks: attribute, judge, pin, record."""

    def __init__(self, rt: Any):
        self.rt = rt
        self.started = asyncio.Event()
        self._exchange_of: dict[str, tuple[ProxySession, Exchange]] = {}
        self._host_of: dict[str, tuple[str, int]] = {}

    def running(self) -> None:
        self.started.set()

    # attribution: by the listening port a client connection arrived on, fixed at connect time
    def client_connected(self, client: Any) -> None:
        port = client.sockname[1] if client.sockname else None
        self.rt.conn_sessions[client.id] = self.rt.sessions.get(port)

    def client_disconnected(self, client: Any) -> None:
        self.rt.conn_sessions.pop(client.id, None)

    def _session(self, client: Any) -> ProxySession | None:
        return self.rt.conn_sessions.get(client.id)

    async def _judge(self, s: ProxySession | None, host: str, port: int) -> tuple[str, str, str | None] | None:
        """None if allowed (and the session has a pinned address), else (code, reason, address). Fails closed."""
        try:
            return await self._judge_unsafe(s, host, port)
        except Exception as e:  # noqa: BLE001 - mitmproxy would log an addon error and carry on: refuse instead
            log.exception("egress policy check failed for %r:%r", host, port)
            return "internal_error", f"policy check failed: {type(e).__name__}", None

    async def _judge_unsafe(self, s: ProxySession | None, host: str, port: int) -> tuple[str, str, str | None] | None:
        host = host.strip("[]").rstrip(".").lower()
        if s is None:
            return "no_session", "connection does not belong to an open capture session", None
        if s.closed:
            return "session_closed", "capture session is closed", None
        if host in s.noise_hosts:
            return "noise", "browser background traffic is not part of a capture", None
        if s.over_limit:
            return "over_limit", f"capture exceeded its download limit of {s.max_bytes} bytes", None
        if (host, port) in s._pins:
            return None
        if _is_ip(host):
            addresses = [str(ipaddress.ip_address(host))]
        else:
            addresses = await asyncio.get_running_loop().run_in_executor(None, resolve, host, port)
        refusal = destination_refusal(host, port, addresses, s.allowed_hosts)
        if refusal is None and not addresses:
            refusal = ("unresolvable", f"host {host!r} did not resolve")
        if refusal is None and port in self.rt.listen_ports and any(
                ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
            refusal = ("proxy_loop", "request points back at the egress proxy")
        if refusal is not None:
            bad = next((a for a in addresses if a in refusal[1]), addresses[0] if addresses else None)
            return refusal[0], refusal[1], bad
        s._pins[(host, port)] = addresses[0]
        return None

    def _refuse(self, s: ProxySession | None, flow: Any, verdict: tuple[str, str, str | None],
                url: str, host: str, port: int) -> None:
        code, reason, address = verdict
        entry = Blocked(url=url, host=host, port=port, address=address, reason=reason, code=code,
                        at=utc_iso(time.time()))
        if s is not None:
            s._block(entry, noise=code == "noise")
        from mitmproxy import http  # loaded by the runtime before any hook runs

        body = f"Blocked by the Vaern egress policy: {reason}\n".encode("ascii", "replace")
        flow.response = http.Response.make(403, body, {
            "Content-Type": "text/plain; charset=us-ascii", BLOCK_HEADER: code,
            "Cache-Control": "no-store", "Connection": "close"})
        flow.metadata["vaern_blocked"] = True

    async def http_connect(self, flow: Any) -> None:
        s = self._session(flow.client_conn)
        host, port = flow.request.host, flow.request.port
        verdict = await self._judge(s, host, port)
        if verdict is not None:
            self._refuse(s, flow, verdict, f"{host}:{port}", host, port)  # CONNECT: authority form

    async def requestheaders(self, flow: Any) -> None:
        s = self._session(flow.client_conn)
        host, port = flow.request.host, flow.request.port
        verdict = await self._judge(s, host, port)
        if verdict is not None:
            self._refuse(s, flow, verdict, flow.request.pretty_url, host, port)
            return
        assert s is not None
        with s._lock:
            s._in_flight.add(flow.id)
        flow.metadata["vaern_started"] = time.time()

    async def server_connect(self, data: Any) -> None:
        """The gate that matters: validate and pin the address mitmproxy is about to connect to."""
        try:
            await self._server_connect(data)
        except Exception as e:  # noqa: BLE001 - fail closed
            log.exception("egress proxy: server_connect check failed")
            data.server.error = f"Vaern egress policy: check failed ({type(e).__name__})"

    async def _server_connect(self, data: Any) -> None:
        s = self._session(data.client)
        host, port = data.server.address[0], data.server.address[1]
        verdict = await self._judge(s, host, port)
        if verdict is not None:
            if s is not None and verdict[0] != "noise":
                s._block(Blocked(url=f"{host}:{port}", host=host, port=port, address=verdict[2],
                                 reason=verdict[1], code=verdict[0], at=utc_iso(time.time())))
            data.server.error = f"Vaern egress policy: {verdict[1]}"
            return
        assert s is not None
        ip = s._pins[(host.strip("[]").rstrip(".").lower(), port)]
        if not _is_ip(host) and data.server.sni is None:
            data.server.sni = host
        self._host_of[data.server.id] = (host, port)
        data.server.address = (ip, port)

    def server_connected(self, data: Any) -> None:
        # Put the host name back: mitmproxy matches connections for reuse (and requests inside a
        # CONNECT tunnel) by address. The socket is already connected to the pinned IP.
        original = self._host_of.pop(data.server.id, None)
        if original is not None:
            data.server.__dict__["address"] = original

    def server_connect_error(self, data: Any) -> None:
        self._host_of.pop(data.server.id, None)

    def responseheaders(self, flow: Any) -> None:
        if flow.metadata.get("vaern_blocked"):
            return
        s = self._session(flow.client_conn)
        if s is None:
            return
        length = flow.response.headers.get("content-length", "")
        if length.isdigit() and s.bytes_total + int(length) > s.max_bytes:
            with s._lock:
                s.over_limit = True
            s._block(Blocked(url=flow.request.pretty_url, host=flow.request.host, port=flow.request.port,
                             address=_peer_ip(flow), code="over_limit",
                             reason=f"response of {length} bytes would exceed the capture limit of {s.max_bytes} bytes",
                             at=utc_iso(time.time())))
            flow.metadata["vaern_killed"] = True
            flow.kill()
            return
        buf = bytearray()
        flow.metadata["vaern_body"] = buf

        def stream(chunk: bytes) -> bytes:
            if flow.metadata.get("vaern_truncated"):
                return b""
            if chunk and not s._add_bytes(len(chunk)):
                flow.metadata["vaern_truncated"] = True
                return b""
            buf.extend(chunk)
            return chunk

        flow.response.stream = stream

    def response(self, flow: Any) -> None:
        try:
            self._response(flow)
        except Exception:  # noqa: BLE001 - what cannot be recorded must not reach the browser either
            log.exception("egress proxy: recording %s failed", flow.request.pretty_url)
            flow.kill()

    def _response(self, flow: Any) -> None:
        s = self._session(flow.client_conn)
        if s is None:
            return
        with s._lock:
            s._in_flight.discard(flow.id)
        if flow.metadata.get("vaern_blocked"):
            return
        body = flow.metadata.get("vaern_body")
        if body is None:  # not streamed (no body or set by an addon)
            body = flow.response.raw_content or b""
            s._add_bytes(len(body))
        truncated = bool(flow.metadata.get("vaern_truncated"))
        ex = _exchange(flow, bytes(body), truncated)
        with s._lock:
            if not s.closed:
                s._exchanges.append(ex)
        if flow.websocket is not None:
            self._exchange_of[flow.id] = (s, ex)
        if truncated:
            s._block(Blocked(url=ex.url, host=flow.request.host, port=flow.request.port, address=ex.server_ip,
                             code="over_limit", reason=f"response cut: capture exceeded {s.max_bytes} bytes",
                             at=utc_iso(time.time())))
            flow.metadata["vaern_killed"] = True
            flow.kill()

    def error(self, flow: Any) -> None:
        s = self._session(flow.client_conn)
        if s is None:
            return
        with s._lock:
            s._in_flight.discard(flow.id)
            if s.closed or flow.metadata.get("vaern_blocked") or flow.metadata.get("vaern_killed"):
                return
            msg = flow.error.msg if flow.error else "unknown error"
            if "Vaern egress policy" in msg:  # refused in server_connect: already in blocked
                return
            body = flow.metadata.get("vaern_body")
            if flow.response is not None and body is not None and flow.metadata.get("vaern_truncated"):
                # cut at the byte limit, then the connection ended before the server finished (the page
                # navigated on): the bytes received up to the cut are still what the server sent — keep them
                s._exchanges.append(_exchange(flow, bytes(body), True))
                s._blocked.append(Blocked(url=flow.request.pretty_url, host=flow.request.host,
                                          port=flow.request.port, address=_peer_ip(flow), code="over_limit",
                                          reason=f"response cut: capture exceeded {s.max_bytes} bytes",
                                          at=utc_iso(time.time())))
                return
            s._failed.append({"url": flow.request.pretty_url, "host": flow.request.host,
                              "port": flow.request.port, "address": _peer_ip(flow), "error": msg,
                              "at": utc_iso(time.time())})

    def websocket_message(self, flow: Any) -> None:
        pair = self._exchange_of.get(flow.id)
        if pair is None:
            return
        s, ex = pair
        msg = flow.websocket.messages[-1]
        ex.websocket_messages += 1
        if not s._add_bytes(len(msg.content)):
            flow.metadata["vaern_killed"] = True
            flow.kill()
        flow.websocket.messages.clear()  # counted, not kept

    def websocket_end(self, flow: Any) -> None:
        self._exchange_of.pop(flow.id, None)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%")[0])
        return True
    except ValueError:
        return False


def _peer_ip(flow: Any) -> str | None:
    peer = flow.server_conn.peername if flow.server_conn else None
    return str(peer[0]) if peer else None


def _exchange(flow: Any, body: bytes, truncated: bool) -> Exchange:
    req, resp, srv = flow.request, flow.response, flow.server_conn
    target = req.path if req.method != "CONNECT" else req.authority
    tls = None
    if srv is not None and srv.tls_established:
        tls = {"protocol": srv.tls_version, **_cert_summary(srv.certificate_list)}
    started = flow.metadata.get("vaern_started") or req.timestamp_start
    return Exchange(
        id=flow.id, url=req.pretty_url, method=req.method,
        request_line=f"{req.method} {target} {req.http_version}".encode("latin-1", "replace"),
        request_headers=list(req.headers.fields), request_body=req.raw_content or b"",
        http_version=resp.http_version, status=resp.status_code,
        reason=resp.reason if isinstance(resp.reason, str) else resp.reason.decode("latin-1"),
        response_headers=list(resp.headers.fields), response_body=body,
        started_at=utc_iso(started), ended_at=utc_iso(resp.timestamp_end or time.time()),
        server_ip=_peer_ip(flow), server_port=srv.peername[1] if srv is not None and srv.peername else None,
        tls=tls, truncated=truncated)


def _cert_summary(certs: list[Any]) -> dict[str, Any]:
    if not certs:
        return {"subject": None, "issuer": None, "not_before": None, "not_after": None, "serial": None,
                "sha256": None}
    c = certs[0]._cert  # mitmproxy.certs.Cert wraps a cryptography x509.Certificate
    from cryptography.hazmat.primitives import hashes
    return {
        "subject": c.subject.rfc4514_string(), "issuer": c.issuer.rfc4514_string(),
        "not_before": c.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": c.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "serial": format(c.serial_number, "x"), "sha256": c.fingerprint(hashes.SHA256()).hex(),
    }
