"""A local RFC 3161 time-stamping authority for tests: a throw-away CA, a TSA certificate and
``openssl ts -reply`` behind a tiny HTTP server on 127.0.0.1.

    with LocalTSA(tmp_path) as tsa:
        options = CaptureOptions(tsa_url=tsa.url, tsa_ca_file=tsa.ca_file)
        tsa.outage = 503           # answer every query with HTTP 503
        tsa.untrusted = True       # sign with a TSA certificate from a CA the caller does not trust
        tsa.delay_seconds = 3      # answer late (timeouts)
        tsa.replay = True          # answer with the previous token (a replay)
        tsa.stop()                 # the port now refuses connections

Needs the OpenSSL 3 command line tool.
"""
from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

POLICY_OID = "1.2.3.4.1"

_CONFIG = """\
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ tsa_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
{sections}
"""

# No "certs =" line: OpenSSL would then emit the certificate SET in non-DER order, which
# rfc3161-client refuses ("InvalidSetOrdering"; research notes tech.md §4).
_TSA_SECTION = """\
[ {name} ]
serial = {dir}/{name}.serial
signer_cert = {dir}/{name}.crt
signer_key = {dir}/{name}.key
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1
ess_cert_id_alg = sha256
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class LocalTSA:
    """A CA + TSA certificate pair made with ``openssl`` in ``workdir`` and an HTTP TSA on 127.0.0.1."""

    def __init__(self, workdir: str | Path, policy_oid: str = POLICY_OID):
        self.dir = Path(workdir) / "local-tsa"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.policy_oid = policy_oid
        self.outage: int | None = None  #: HTTP status to answer with instead of a token (e.g. 503)
        self.untrusted = False  #: sign with the rogue TSA, whose CA is not in ca_file
        self.delay_seconds = 0.0  #: sleep before answering
        self.replay = False  #: answer with the previous token (wrong nonce and imprint)
        self.last_answer: bytes | None = None
        self.queries = 0  #: POSTs received
        self._lock = threading.Lock()
        self._make_pki()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-tsa", daemon=True)
        self._thread.start()
        self._stopped = False

    # -- public -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/tsa"

    @property
    def ca_file(self) -> str:
        """PEM root that tokens from this TSA chain to (not the rogue one)."""
        return str(self.dir / "ca.crt")

    @property
    def tsa_cert_file(self) -> str:
        return str(self.dir / "tsa.crt")

    @property
    def rogue_ca_file(self) -> str:
        return str(self.dir / "rogue-ca.crt")

    def reply(self, query: bytes) -> bytes:
        """Answer a DER TimeStampReq with a DER TimeStampResp (no HTTP)."""
        section = "rogue-tsa" if self.untrusted else "tsa"
        with self._lock, tempfile.TemporaryDirectory(dir=self.dir) as tmp:
            q, r = Path(tmp) / "query.tsq", Path(tmp) / "reply.tsr"
            q.write_bytes(query)
            _openssl("ts", "-reply", "-config", str(self.dir / "tsa.cnf"), "-section", section,
                     "-queryfile", str(q), "-out", str(r), cwd=self.dir)
            return r.read_bytes()

    def stop(self) -> None:
        """Stop serving; connections to ``url`` are refused from now on."""
        if not self._stopped:
            self._stopped = True
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)

    def __enter__(self) -> "LocalTSA":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------
    def _make_pki(self) -> None:
        d = self.dir
        sections = "".join(_TSA_SECTION.format(name=n, dir=d, policy=self.policy_oid) for n in ("tsa", "rogue-tsa"))
        (d / "tsa.cnf").write_text(_CONFIG.format(sections=sections))
        for ca, tsa, label in (("ca", "tsa", "Test Evidence Root CA"), ("rogue-ca", "rogue-tsa", "Rogue Root CA")):
            _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days", "3650", "-subj", f"/CN={label}",
                     "-config", "tsa.cnf", "-extensions", "ca_ext", cwd=d)
            _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", f"{tsa}.key", "-out", f"{tsa}.csr", "-subj", f"/CN={label} TSA",
                     "-config", "tsa.cnf", cwd=d)
            _openssl("x509", "-req", "-in", f"{tsa}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
                     "-CAcreateserial", "-out", f"{tsa}.crt", "-days", "825",
                     "-extfile", "tsa.cnf", "-extensions", "tsa_ext", cwd=d)
            (d / f"{tsa}.serial").write_text("01\n")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                tsa.queries += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if tsa.delay_seconds:
                    time.sleep(tsa.delay_seconds)
                if tsa.outage:
                    self._send(tsa.outage, b"TSA unavailable\n", "text/plain")
                    return
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self._send(415, b"want application/timestamp-query\n", "text/plain")
                    return
                if tsa.replay and tsa.last_answer:
                    self._send(200, tsa.last_answer, "application/timestamp-reply")
                    return
                try:
                    answer = tsa.reply(body)
                except subprocess.CalledProcessError:
                    self._send(400, b"bad query\n", "text/plain")
                    return
                tsa.last_answer = answer
                self._send(200, answer, "application/timestamp-reply")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        return Handler
