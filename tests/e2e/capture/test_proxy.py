"""The egress proxy with the real Chromium: what is blocked never arrives, what is allowed is recorded.

Servers: 127.0.0.1:<P> (allow-listed, HTTP + WebSocket), 127.0.0.2:<P2> and 127.0.0.1:<P3> (not
allow-listed: any hit on them is a failure), 127.0.0.1:<PT> (TLS, allow-listed, cert from a test CA
given to the proxy as extra CA) and 127.0.0.1:<PU> (TLS, allow-listed, cert from an untrusted CA).
"""
from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import ipaddress
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from capture import proxy_addons
from capture.errors import CaptureFailed
from capture.proxy import BLOCK_HEADER, BROWSER_ARGS, EgressProxy
from tests.support.environment import CHROMIUM

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
GZ_BODY = gzip.compress(b"<html><body><p id=gz>GZIPPED-CONTENT</p></body></html>", mtime=0)
BIG = b"B" * 300_000


# -- fixture servers -----------------------------------------------------------------------------

class Server:
    """A small HTTP/1.1 (+ WebSocket, + optional TLS) server that remembers every request it got."""

    def __init__(self, host: str, name: str, tls: ssl.SSLContext | None = None):
        self.name = name
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.hits.append(self.path)
                outer.route(self)

            do_POST = do_GET

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.host = host
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def route(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        if h.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket(h)
        if self.name.startswith("other"):  # must never be reached: everything it says is a secret
            return send(h, 200, f"SECRET-{self.name}-{h.path}".encode(), "text/html",
                        {"Access-Control-Allow-Origin": "*"})
        page = PAGES.get(path)
        if page is None:
            return send(h, 404, b"not found", "text/plain")
        page(self, h)

    def websocket(self, h: BaseHTTPRequestHandler) -> None:
        accept = base64.b64encode(hashlib.sha1((h.headers["Sec-WebSocket-Key"] + WS_GUID).encode()).digest())
        h.send_response(101)
        h.send_header("Upgrade", "websocket")
        h.send_header("Connection", "Upgrade")
        h.send_header("Sec-WebSocket-Accept", accept.decode())
        h.end_headers()
        msg = f"WS-{self.name}".encode()
        h.wfile.write(bytes([0x81, len(msg)]) + msg)
        h.wfile.flush()
        h.connection.settimeout(5)
        try:
            while h.connection.recv(1024):
                pass
        except OSError:
            pass
        h.close_connection = True

    def url(self, path: str = "/") -> str:
        scheme = "https" if isinstance(self.httpd.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://{self.host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def send(h, status, body: bytes, ctype="text/html; charset=utf-8", extra=None):
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for k, v in (extra or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


def page_home(srv, h):
    send(h, 200, b"""<!doctype html><html><head><title>allowed</title><script src="/app.js"></script></head>
<body><h1>ALLOWED-PAGE</h1><img src="/img.png" id=img><p id=api></p></body></html>""")


def page_app(srv, h):
    send(h, 200, b"fetch('/api').then(r => r.text()).then(t => { document.getElementById('api').textContent = t; });",
         "application/javascript")


def page_api(srv, h):
    send(h, 200, b"API-OK", "text/plain")


PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                       "AAAABJRU5ErkJggg==")


def page_img(srv, h):
    send(h, 200, PNG, "image/png")


def page_redirect(srv, h):
    target = h.path.split("to=", 1)[1]
    h.send_response(302)
    h.send_header("Location", target)
    h.send_header("Content-Length", "0")
    h.end_headers()


def page_gz(srv, h):
    send(h, 200, GZ_BODY, "text/html; charset=utf-8", {"Content-Encoding": "gzip", "X-Case-Kept": "Yes"})


def page_big(srv, h):
    send(h, 200, BIG, "application/octet-stream")


def page_chunked(srv, h):
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    for _ in range(30):
        chunk = b"C" * 10_000
        try:
            h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            h.wfile.flush()
        except OSError:
            return
    h.wfile.write(b"0\r\n\r\n")


def page_tagged(srv, h):
    tag = h.path.split("tag=", 1)[1]
    imgs = "".join(f'<img src="/slow.png?tag={tag}&n={i}">' for i in range(6))
    send(h, 200, f"<html><body><h1>{tag}</h1>{imgs}</body></html>".encode())


def page_slow(srv, h):
    time.sleep(0.4)
    send(h, 200, PNG, "image/png")


def page_ws(srv, h):  # a page opening a WebSocket to the URL in ?u=
    target = h.path.split("u=", 1)[1]
    send(h, 200, f"""<html><body><p id=out>waiting</p><script>
const ws = new WebSocket({target!r});
ws.onmessage = e => {{ document.getElementById('out').textContent = e.data; ws.close(); }};
ws.onerror = () => {{ document.getElementById('out').textContent = 'ws-error'; }};
</script></body></html>""".encode())


PAGES = {"/": page_home, "/app.js": page_app, "/api": page_api, "/img.png": page_img,
         "/redirect": page_redirect, "/gz": page_gz, "/big": page_big, "/chunked": page_chunked,
         "/tagged": page_tagged, "/slow.png": page_slow, "/wspage": page_ws, "/attack": None}


# -- certificates --------------------------------------------------------------------------------

def make_ca(tmp: Path, name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Vaern test CA {name}")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"evidence server {name}")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(0x5EED)
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=10))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("evidence.test"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (tmp / f"{name}-ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp / f"{name}-leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp / f"{name}-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp / f"{name}-leaf.pem", tmp / f"{name}-key.pem")
    return tmp / f"{name}-ca.pem", tls, leaf


# -- lifecycle (before the module's shared proxy exists: one EgressProxy per process) -----------

def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def test_proxy_starts_and_stops_without_leaking_threads_or_ports():
    before = _threads()
    with EgressProxy() as p:
        port = p.port
        s = p.open_session()
        sport = s.port
        assert port and sport and port != sport
        rec = s.close()
        assert rec.exchanges == [] and rec.blocked == [] and not rec.over_limit
        with pytest.raises(OSError):  # session port is closed once the session is
            socket.create_connection(("127.0.0.1", sport), timeout=1).close()
    assert _threads() <= before
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_two_proxies_in_one_process_share_a_runtime_but_not_ports_or_sessions():
    before = _threads()
    a = EgressProxy().start()
    with EgressProxy() as b:
        assert a.port != b.port
        sa, sb = a.open_session(), b.open_session()
        assert len({a.port, b.port, sa.port, sb.port}) == 4
        a.stop()  # b and its session carry on
        assert not a.running and b.running
        with pytest.raises(CaptureFailed):
            a.open_session()
        assert b.open_session().close().exchanges == []
        sb.close()
    assert _threads() <= before


def test_a_stopped_proxy_can_be_started_again():
    p = EgressProxy()
    for _ in range(2):
        with p:
            assert p.running and p.open_session().close().blocked == []
    assert not p.running


def test_sessions_open_on_their_own_ports_and_close_leaving_none_behind():
    """(How long a session takes to open is a benchmark's question, not a test's.)"""
    with EgressProxy() as p:
        sessions = [p.open_session() for _ in range(20)]
        ports = {s.port for s in sessions}
        assert len(ports) == 20 and p.port not in ports
        assert all(s.close(timeout=0).blocked == [] for s in sessions)
        assert not p._open and not ports & set(p._rt.sessions)


# -- shared fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("certs")
    return {"trusted": make_ca(tmp, "trusted"), "untrusted": make_ca(tmp, "untrusted")}


@pytest.fixture(scope="module")
def servers(certs):
    s = {
        "allowed": Server("127.0.0.1", "allowed"),
        "other_ip": Server("127.0.0.2", "other-ip"),
        "other_port": Server("127.0.0.1", "other-port"),
        "tls": Server("127.0.0.1", "tls", certs["trusted"][1]),
        "untrusted": Server("127.0.0.1", "untrusted", certs["untrusted"][1]),
    }
    yield s
    for srv in s.values():
        srv.close()


@pytest.fixture(scope="module")
def egress(servers, certs):
    allowed = tuple((servers[k].host, servers[k].port) for k in ("allowed", "tls", "untrusted"))
    with EgressProxy(allowed_hosts=allowed, extra_ca_file=str(certs["trusted"][0])) as p:
        yield p


@pytest.fixture(scope="module")
def browser(egress):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(BROWSER_ARGS),
                               proxy=egress.launch_proxy())
        yield b
        b.close()


@pytest.fixture
def clean(servers):
    for srv in servers.values():
        srv.hits.clear()
    return servers


class Capture:
    """One browser context on one proxy session, as the engine will use them."""

    def __init__(self, browser, egress, **session_kw):
        self.session = egress.open_session(**session_kw)
        self.context = browser.new_context(proxy=self.session.playwright_proxy(), ignore_https_errors=True,
                                           service_workers="block", accept_downloads=False)
        self.page = self.context.new_page()
        self.record = None

    def finish(self):
        self.context.close()
        self.record = self.session.close(timeout=3)
        assert self.record.in_flight_at_close == 0
        return self.record


@pytest.fixture
def capture(browser, egress, clean):
    made = []

    def make(**kw):
        c = Capture(browser, egress, **kw)
        made.append(c)
        return c
    yield make
    for c in made:
        if c.record is None:
            c.finish()


def all_text(page) -> str:
    """Everything the browser has: every frame's DOM and visible text."""
    parts = []
    for frame in page.frames:
        try:
            parts.append(frame.content())
            parts.append(frame.evaluate("document.body ? document.body.innerText : ''"))
        except Exception:  # a detached frame
            pass
    return "\n".join(parts)


def warc_records(data: bytes):
    from warcio.archiveiterator import ArchiveIterator
    out = []
    for rec in ArchiveIterator(io.BytesIO(data)):
        out.append((rec.rec_type, rec.rec_headers, rec.http_headers, rec.raw_stream.read()))
    return out


# -- allowed traffic -----------------------------------------------------------------------------

@pytest.mark.browser
def test_allowed_page_and_its_subresources_load_and_are_recorded_with_server_ip(capture, servers):
    c = capture()
    resp = c.page.goto(servers["allowed"].url("/"))
    c.page.wait_for_function("document.getElementById('api').textContent === 'API-OK'")
    assert resp.status == 200 and "ALLOWED-PAGE" in c.page.content()
    assert c.page.evaluate("document.getElementById('img').naturalWidth") == 1
    rec = c.finish()
    urls = {e.url for e in rec.exchanges}
    for path in ("/", "/app.js", "/api", "/img.png"):
        assert servers["allowed"].url(path) in urls
    assert all(e.server_ip == "127.0.0.1" and e.server_port == servers["allowed"].port for e in rec.exchanges)
    main = rec.main_exchange(servers["allowed"].url("/"))
    assert main.exchange.status == 200 and b"ALLOWED-PAGE" in main.exchange.response_body
    assert main.chain == [{"url": servers["allowed"].url("/"), "status": 200}]
    assert rec.blocked == [] and rec.bytes_total >= sum(len(e.response_body) for e in rec.exchanges)


@pytest.mark.browser
def test_bodies_are_recorded_as_received_with_their_content_encoding(capture, servers):
    c = capture()
    c.page.goto(servers["allowed"].url("/gz"))
    assert "GZIPPED-CONTENT" in c.page.content()
    rec = c.finish()
    ex = rec.main_exchange(servers["allowed"].url("/gz")).exchange
    assert ex.response_body == GZ_BODY
    assert (b"X-Case-Kept", b"Yes") in ex.response_headers and ex.header("content-encoding") == "gzip"
    assert ex.request_line == b"GET /gz HTTP/1.1"


@pytest.mark.browser
def test_an_allowed_websocket_works_and_its_handshake_is_recorded(capture, servers):
    c = capture()
    ws_url = f"ws://127.0.0.1:{servers['allowed'].port}/socket"
    c.page.goto(servers["allowed"].url(f"/wspage?u={ws_url}"))
    c.page.wait_for_function("document.getElementById('out').textContent !== 'waiting'")
    assert c.page.inner_text("#out") == "WS-allowed"
    rec = c.finish()
    hs = [e for e in rec.exchanges if e.status == 101]
    assert len(hs) == 1 and hs[0].server_ip == "127.0.0.1" and hs[0].websocket_messages >= 1


@pytest.mark.browser
def test_https_is_intercepted_verified_upstream_and_the_tls_summary_recorded(capture, servers, certs):
    c = capture()
    resp = c.page.goto(servers["tls"].url("/"))
    c.page.wait_for_function("document.getElementById('api').textContent === 'API-OK'")
    assert resp.status == 200 and "ALLOWED-PAGE" in c.page.content()
    rec = c.finish()
    ex = rec.main_exchange(servers["tls"].url("/")).exchange
    leaf = certs["trusted"][2]
    from cryptography.hazmat.primitives import hashes
    assert ex.server_ip == "127.0.0.1"
    assert ex.tls["protocol"] in ("TLSv1.2", "TLSv1.3")
    assert ex.tls["subject"] == "CN=evidence server trusted" and ex.tls["issuer"] == "CN=Vaern test CA trusted"
    assert ex.tls["serial"] == "5eed" and ex.tls["sha256"] == leaf.fingerprint(hashes.SHA256()).hex()
    assert ex.tls["not_before"].endswith("Z") and ex.tls["not_after"] > ex.tls["not_before"]
    assert ex.url.startswith("https://127.0.0.1:")
    fields = rec.manifest_fields(servers["tls"].url("/"))
    assert fields["tls"]["subject"] == "CN=evidence server trusted" and fields["server_ip"] == "127.0.0.1"
    assert fields["http"]["status"] == 200 and fields["http"]["headers"]["content-type"].startswith("text/html")
    assert fields["warc"] == {"fidelity": "byte-faithful", "records": 1 + 2 * len(rec.exchanges)}
    from capture.bundle import canonical_json
    canonical_json(fields)  # no floats, JSON-able


@pytest.mark.browser
def test_an_upstream_certificate_from_an_unknown_ca_is_not_accepted(capture, servers):
    c = capture()
    try:
        resp = c.page.goto(servers["untrusted"].url("/"))
        status = resp.status if resp else None
    except Exception:  # net::ERR_... is fine too
        status = None
    assert status != 200
    assert "ALLOWED-PAGE" not in all_text(c.page)
    rec = c.finish()
    assert not any(b"ALLOWED-PAGE" in e.response_body for e in rec.exchanges)
    assert any("certificate" in f["error"].lower() for f in rec.failed), rec.failed


# -- blocked traffic -----------------------------------------------------------------------------

@pytest.mark.browser
def test_a_redirect_to_another_loopback_address_is_blocked(capture, servers):
    c = capture()
    target = servers["other_ip"].url("/internal")
    resp = c.page.goto(servers["allowed"].url(f"/redirect?to={target}"))
    assert resp.status == 403 and resp.headers.get(BLOCK_HEADER.lower()) == "blocked_address"
    assert "SECRET" not in all_text(c.page)
    rec = c.finish()
    assert servers["other_ip"].hits == []
    main = rec.main_exchange(servers["allowed"].url(f"/redirect?to={target}"))
    assert [h["status"] for h in main.chain] == [302, 403]
    assert main.blocked.address == "127.0.0.2" and main.chain[-1]["url"] == target
    fields = rec.manifest_fields(servers["allowed"].url(f"/redirect?to={target}"))
    assert fields["final_url"] == target and fields["http"] is None and fields["server_ip"] is None
    assert fields["blocked_requests"][0]["address"] == "127.0.0.2"
    assert b"SECRET" not in gzip.decompress(rec.warc_bytes({}))


@pytest.mark.browser
def test_a_redirect_to_an_https_loopback_address_is_refused_at_the_tunnel(capture, servers):
    c = capture()
    target = f"https://127.0.0.2:{servers['other_ip'].port}/internal"
    with pytest.raises(Exception):  # the refused CONNECT is a network error in the browser
        c.page.goto(servers["allowed"].url(f"/redirect?to={target}"))
    rec = c.finish()
    assert servers["other_ip"].hits == []
    main = rec.main_exchange(servers["allowed"].url(f"/redirect?to={target}"))
    assert [h["status"] for h in main.chain] == [302, 403]
    assert main.blocked.url == f"127.0.0.2:{servers['other_ip'].port}" and main.blocked.code == "blocked_address"


ATTACK = """<!doctype html><html><body><h1>ATTACK-PAGE</h1>
<iframe src="http://127.0.0.1:{p3}/iframe"></iframe>
<img src="http://127.0.0.2:{p2}/img.png"><img src="http://10.255.255.1/private.png">
<img src="http://169.254.169.254/latest/meta-data/"><img src="http://localhost:{p3}/localhost.png">
<img src="http://2130706433:{p3}/decimal.png"><img src="http://0x7f.2:{p2}/hex.png">
<img src="http://[::ffff:127.0.0.1]:{p3}/mapped.png">
<p id=out></p>
<script>
window.settled = 0;
const out = t => {{ document.getElementById('out').textContent += ' ' + t; }};
for (const u of ["http://127.0.0.1:{p3}/fetch", "http://127.0.0.2:{p2}/fetch", "http://2130706433:{p3}/fetch-num",
                 "http://update.googleapis.com/service/update2"]) {{
  fetch(u).then(r => r.text()).then(out, e => out('fetch-error')).finally(() => window.settled++);
}}
for (const u of ["ws://127.0.0.1:{p3}/ws", "ws://127.0.0.2:{p2}/ws", "ws://localhost:{p3}/ws"]) {{
  const ws = new WebSocket(u);
  ws.onmessage = e => out(e.data);
  ws.onerror = () => {{ out('ws-error'); window.settled++; }};
  ws.onopen = () => {{ out('ws-' + 'opened'); window.settled++; }};
}}
</script></body></html>"""


def page_attack(srv, h):
    p2, p3 = srv.attack_ports
    send(h, 200, ATTACK.format(p2=p2, p3=p3).encode())


PAGES["/attack"] = page_attack


@pytest.mark.browser
def test_iframes_images_fetches_and_websockets_to_other_destinations_are_blocked(capture, servers):
    p2, p3 = servers["other_ip"].port, servers["other_port"].port
    servers["allowed"].attack_ports = (p2, p3)
    c = capture()
    c.page.goto(servers["allowed"].url("/attack"))
    c.page.wait_for_function("window.settled >= 7", timeout=15_000)
    c.page.wait_for_load_state("load")
    text = all_text(c.page)
    assert "ATTACK-PAGE" in text
    assert "SECRET" not in text
    assert "WS-other" not in text
    assert "ws-opened" not in text
    png = c.page.screenshot(full_page=True)
    rec = c.finish()
    assert servers["other_ip"].hits == [] and servers["other_port"].hits == []
    blocked = {(b.host, b.port, b.code) for b in rec.blocked}
    assert ("127.0.0.1", p3, "blocked_address") in blocked  # iframe, fetch, WebSocket (CONNECT)
    assert ("127.0.0.2", p2, "blocked_address") in blocked  # img, fetch, WebSocket, 0x7f.2
    assert ("10.255.255.1", 80, "blocked_address") in blocked
    assert ("169.254.169.254", 80, "blocked_address") in blocked
    assert ("localhost", p3, "blocked_address") in blocked
    assert ("::ffff:7f00:1", p3, "blocked_address") in blocked
    urls = {b.url for b in rec.blocked}
    for path in ("/iframe", "/fetch"):
        assert f"http://127.0.0.1:{p3}{path}" in urls
    assert f"http://127.0.0.1:{p3}/decimal.png" in urls  # Chromium sent 2130706433 as 127.0.0.1
    assert f"127.0.0.1:{p3}" in urls and f"127.0.0.2:{p2}" in urls  # WebSocket CONNECT tunnels
    assert any(n.host == "update.googleapis.com" for n in rec.noise)
    assert not any(b.host == "update.googleapis.com" for b in rec.blocked)
    assert all(e.server_ip == "127.0.0.1" and e.server_port == servers["allowed"].port for e in rec.exchanges)
    warc = gzip.decompress(rec.warc_bytes({}))
    assert b"SECRET" not in warc and b"Blocked by the Vaern" not in warc
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(b.describe().keys() == {"url", "host", "port", "address", "reason", "at"} for b in rec.blocked)


@pytest.mark.browser
@pytest.mark.parametrize("url_of", [
    lambda s: f"http://2130706433:{s['other_port'].port}/",
    lambda s: f"http://localhost:{s['other_port'].port}/",
    lambda s: f"http://localhost:{s['allowed'].port}/",  # same port, but only 127.0.0.1:<P> is listed
    lambda s: f"http://127.0.0.1:{s['other_port'].port}/",
    lambda s: f"http://0x7f.2:{s['other_ip'].port}/",
    lambda s: f"https://127.0.0.2:{s['other_ip'].port}/",
], ids=["decimal", "localhost-other-port", "localhost-allowed-port", "other-port", "hex-other-ip", "https-other-ip"])
def test_navigating_straight_to_a_local_destination_is_blocked(capture, servers, url_of):
    c = capture()
    try:
        resp = c.page.goto(url_of(servers))
        status = resp.status if resp else None
    except Exception:  # HTTPS: a refused CONNECT is a network error in the browser
        status = None
    assert status in (403, None)
    assert "SECRET" not in all_text(c.page)
    rec = c.finish()
    assert rec.blocked and rec.exchanges == [] or all(b"SECRET" not in e.response_body for e in rec.exchanges)
    assert servers["other_ip"].hits == [] and servers["other_port"].hits == []
    assert all("SECRET" not in h for h in servers["allowed"].hits)


@pytest.mark.browser
def test_a_context_without_a_session_proxy_gets_nothing(browser, clean, servers):
    ctx = browser.new_context()  # falls back to the launch proxy: the base port refuses everything
    page = ctx.new_page()
    resp = page.goto(servers["allowed"].url("/"))
    assert resp.status == 403 and resp.headers.get(BLOCK_HEADER.lower()) == "no_session"
    ctx.close()
    assert servers["allowed"].hits == []


@pytest.mark.browser
def test_a_closed_session_refuses_further_requests(browser, egress, clean, servers):
    s = egress.open_session()
    ctx = browser.new_context(proxy=s.playwright_proxy())
    page = ctx.new_page()
    page.goto(servers["allowed"].url("/img.png"))
    rec = s.close()
    assert len(rec.exchanges) == 1
    try:  # a kept-alive connection gets a 403; a new one finds the port closed
        resp = page.goto(servers["allowed"].url("/api"))
        assert resp.status == 403 and resp.headers[BLOCK_HEADER.lower()] == "session_closed"
    except Exception as e:
        assert "ERR_PROXY_CONNECTION_FAILED" in str(e)
    ctx.close()
    assert "/api" not in servers["allowed"].hits


# -- attribution, pinning, limits ----------------------------------------------------------------

@pytest.mark.browser
def test_two_concurrent_sessions_are_not_mixed(capture, servers):
    a, b = capture(), capture()
    a.page.goto(servers["allowed"].url("/tagged?tag=AAA"), wait_until="commit")
    b.page.goto(servers["allowed"].url("/tagged?tag=BBB"), wait_until="commit")
    a.page.wait_for_load_state("load")
    b.page.wait_for_load_state("load")
    ra, rb = a.finish(), b.finish()
    assert len(ra.exchanges) >= 7 and len(rb.exchanges) >= 7
    assert all("tag=AAA" in e.url for e in ra.exchanges if "favicon" not in e.url)
    assert all("tag=BBB" in e.url for e in rb.exchanges if "favicon" not in e.url)
    span_a = (min(e.started_at for e in ra.exchanges), max(e.ended_at for e in ra.exchanges))
    span_b = (min(e.started_at for e in rb.exchanges), max(e.ended_at for e in rb.exchanges))
    assert span_a[0] < span_b[1] and span_b[0] < span_a[1]  # the two sessions' traffic really overlapped


@pytest.mark.browser
def test_the_connection_goes_to_the_address_validated_first(capture, servers, monkeypatch):
    # DNS rebinding: the first answer is validated and pinned; a later, different answer is never used.
    calls = []

    def fake_resolve(host, port):
        if host != "evidence.test":
            return []
        calls.append(host)
        return ["127.0.0.1"] if len(calls) == 1 else ["127.0.0.2"]

    monkeypatch.setattr(proxy_addons, "resolve", fake_resolve)
    port = servers["allowed"].port
    c = capture(allowed_hosts=(("evidence.test", port),))
    resp = c.page.goto(f"http://evidence.test:{port}/")
    c.page.wait_for_function("document.getElementById('api').textContent === 'API-OK'")
    assert resp.status == 200
    rec = c.finish()
    assert len(rec.exchanges) >= 4 and all(e.server_ip == "127.0.0.1" for e in rec.exchanges)
    assert calls == ["evidence.test"]
    assert all(dict(e.request_headers).get(b"Host") == f"evidence.test:{port}".encode() for e in rec.exchanges)


@pytest.mark.browser
def test_a_tls_host_name_is_pinned_and_verified_by_name(capture, servers, monkeypatch):
    monkeypatch.setattr(proxy_addons, "resolve", lambda host, port: ["127.0.0.1"] if host == "evidence.test" else [])
    port = servers["tls"].port
    c = capture(allowed_hosts=(("evidence.test", port),))
    resp = c.page.goto(f"https://evidence.test:{port}/api")
    assert resp.status == 200 and "API-OK" in c.page.content()
    rec = c.finish()
    ex = rec.main_exchange(f"https://evidence.test:{port}/api").exchange
    assert ex.server_ip == "127.0.0.1" and ex.tls["subject"] == "CN=evidence server trusted"


@pytest.mark.browser
def test_a_response_over_the_byte_limit_is_cut_and_marked(capture, servers):
    c = capture(max_bytes=100_000)
    try:
        c.page.goto(servers["allowed"].url("/big"))
    except Exception:
        pass
    rec = c.finish()
    assert rec.over_limit
    assert any(b.code == "over_limit" for b in rec.blocked)
    assert rec.bytes_total <= 100_000
    assert not any(len(e.response_body) >= len(BIG) for e in rec.exchanges)


@pytest.mark.browser
def test_a_chunked_response_crossing_the_limit_is_truncated_and_later_requests_refused(capture, servers):
    c = capture(max_bytes=50_000)
    try:
        c.page.goto(servers["allowed"].url("/chunked"))
    except Exception:
        pass
    resp = c.page.goto(servers["allowed"].url("/api"))
    assert resp.status == 403 and resp.headers.get(BLOCK_HEADER.lower()) == "over_limit"
    rec = c.finish()
    assert rec.over_limit
    cut = [e for e in rec.exchanges if e.url.endswith("/chunked")]
    assert cut and cut[0].truncated and len(cut[0].response_body) <= 50_000
    records = warc_records(rec.warc_bytes({}))
    assert any(h.get_header("WARC-Truncated") == "length" for t, h, _, _ in records if t == "response")


# -- WARC ----------------------------------------------------------------------------------------

@pytest.mark.browser
def test_the_warc_is_valid_and_carries_ip_concurrency_and_fidelity(capture, servers, tmp_path):
    c = capture()
    c.page.goto(servers["allowed"].url("/"))
    c.page.wait_for_function("document.getElementById('api').textContent === 'API-OK'")
    c.page.goto(servers["allowed"].url("/gz"))
    c.page.goto(servers["allowed"].url(f"/redirect?to={servers['other_ip'].url('/x')}"))
    rec = c.finish()
    data = rec.warc_bytes({"operator": "test", "capture_id": "abc"})
    path = tmp_path / "traffic.warc.gz"
    path.write_bytes(data)
    index = subprocess.run([str(Path(sys.executable).parent / "warcio"), "index", str(path)],
                           capture_output=True, text=True, check=True)
    assert index.stdout.count('"warc-type": "response"') == len(rec.exchanges)
    records = warc_records(data)
    kinds = [t for t, *_ in records]
    assert kinds[0] == "warcinfo" and kinds.count("request") == kinds.count("response") == len(rec.exchanges)
    info = records[0][3].decode()
    assert "fidelity: byte-faithful" in info and "operator: test" in info and "HTTP/2" in info
    response_ids = {h.get_header("WARC-Record-ID") for t, h, _, _ in records if t == "response"}
    for t, h, http, body in records[1:]:
        assert h.get_header("WARC-Date").endswith("Z")
        if t == "response":
            assert h.get_header("WARC-IP-Address") == "127.0.0.1"
            assert h.get_header("WARC-Payload-Digest") and h.get_header("WARC-Block-Digest")
        else:
            assert h.get_header("WARC-Concurrent-To") in response_ids
    gz = next(body for t, h, http, body in records
              if t == "response" and h.get_header("WARC-Target-URI").endswith("/gz"))
    assert gz == GZ_BODY  # the content-coded bytes as the server sent them
    assert not any(h.get_header("WARC-Target-URI") == servers["other_ip"].url("/x") for _, h, _, _ in records)
    from warcio.archiveiterator import ArchiveIterator
    for r in ArchiveIterator(io.BytesIO(data)):  # digests check out on read
        r.content_stream().read()
