"""A real WACZ for the tests: a local "platform" records a post with a session cookie, warcio writes the
WARC from the server's real answers, py-wacz packs it, and a test ECDSA key signs it the way
ArchiveWeb.page does (WebCrypto: P-384, SHA-256 over the hash string, raw r‖s, SPKI public key).

The server counts every request it gets, so a test can prove the replay sent nothing to it.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.support.factories import png_bytes

POST_TEXT = "Vi ved hvor du bor, sagsbehandler Mette"
SESSION = "HEMMELIG-SESSION-7f3a9c"
PAGE_HTML = f"""<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Opslag 42</title>
<style>body{{font:32px sans-serif;margin:40px}}</style></head><body>
<article class="post"><p>{POST_TEXT}</p></article>
<img src="/billede.png" alt="billede" width="80" height="60">
<script>fetch('/beacon?x=1').catch(() => {{}}); new Image().src = 'https://tracker.example.net/pixel.gif';</script>
</body></html>"""


class Platform:
    """A tiny platform on 127.0.0.1: /opslag/42 (needs the session cookie), /billede.png, /beacon."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                platform.hits.append(self.path)
                if self.path == "/opslag/42":
                    logged_in = SESSION in (self.headers.get("Cookie") or "")
                    body = (PAGE_HTML if logged_in else "<p>Log ind for at se opslaget</p>").encode()
                    self._send(200, "text/html; charset=utf-8", body, [("Set-Cookie", f"session={SESSION}; HttpOnly")])
                elif self.path == "/billede.png":
                    self._send(200, "image/png", png_bytes(80, 60, (20, 120, 200)))
                else:
                    self._send(404, "text/plain", b"not here")

            def _send(self, status, ctype, body, extra=()):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in extra:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def record_warc(platform: Platform) -> bytes:
    """What a logged-in browser received for the post and its picture, as gzipped WARC records."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    host, port = platform.base.removeprefix("http://").split(":")
    for path in ("/opslag/42", "/billede.png"):
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        req_headers = [("Host", f"{host}:{port}"), ("Cookie", f"session={SESSION}"),
                       ("Authorization", f"Bearer {SESSION}")]
        conn.request("GET", path, headers=dict(req_headers))
        resp = conn.getresponse()
        body = resp.read()
        url = platform.base + path
        http_headers = StatusAndHeaders(f"{resp.status} {resp.reason}", resp.getheaders(), protocol="HTTP/1.1")
        response = writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                             http_headers=http_headers)
        request = writer.create_warc_record(url, "request", payload=io.BytesIO(b""), length=0,
                                            http_headers=StatusAndHeaders(f"GET {path} HTTP/1.1", req_headers,
                                                                          is_http_request=True))
        request.rec_headers.add_header("WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID"))
        writer.write_record(response)
        writer.write_record(request)
        conn.close()
    return out.getvalue()


def build_wacz(tmp: Path, warc: bytes, main_url: str) -> bytes:
    """py-wacz's ``wacz create`` over the WARC, with the page list ArchiveWeb.page would write."""
    from wacz.main import main as wacz_main

    src = tmp / "data.warc.gz"
    src.write_bytes(warc)
    from warcio.archiveiterator import ArchiveIterator

    ts = next(r.rec_headers.get_header("WARC-Date") for r in ArchiveIterator(io.BytesIO(warc))
              if r.rec_headers.get_header("WARC-Target-URI") == main_url)
    pages = tmp / "pages.jsonl"
    pages.write_text(json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}) + "\n"
                     + json.dumps({"id": "p1", "url": main_url, "ts": ts, "title": "Opslag 42"})
                     + "\n")
    out = tmp / "opslag.wacz"
    rc = wacz_main(["create", "-o", str(out), str(src), "-p", str(pages)])
    assert rc in (0, None), rc
    return out.read_bytes()


def sign_wacz(data: bytes, key: ec.EllipticCurvePrivateKey | None = None) -> tuple[bytes, str]:
    """The WACZ with an anonymous signedData in datapackage-digest.json; returns (bytes, public key base64)."""
    key = key or ec.generate_private_key(ec.SECP384R1())
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = {i.filename: zf.read(i) for i in zf.infolist()}
    package_hash = "sha256:" + hashlib.sha256(files["datapackage.json"]).hexdigest()
    r, s = decode_dss_signature(key.sign(package_hash.encode(), ec.ECDSA(hashes.SHA256())))
    size = (key.curve.key_size + 7) // 8
    raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    public = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    files["datapackage-digest.json"] = json.dumps({
        "path": "datapackage.json", "hash": package_hash,
        "signedData": {"hash": package_hash, "signature": base64.b64encode(raw).decode(), "publicKey": public,
                       "created": "2026-12-01T09:00:00Z", "software": "Værn test signer"}}).encode()
    return rezip(files), public


def rezip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content, zipfile.ZIP_STORED if name.endswith(".gz") else zipfile.ZIP_DEFLATED)
    return out.getvalue()


def altered(data: bytes, path: str = "archive/data.warc.gz") -> bytes:
    """The WACZ with one word of the post changed inside its WARC (hashes left as they were)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = {i.filename: zf.read(i) for i in zf.infolist()}
    files[path] = gzip.compress(gzip.decompress(files[path]).replace(b"Mette", b"Jens!"))
    return rezip(files)
