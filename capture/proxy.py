"""The egress proxy: every connection the capture browser makes goes through it, and is checked and recorded.

This module is the runtime (ports, sessions, the mitmproxy master on its own thread); the policy it
enforces (attribute, judge, pin, record) is the addon in capture/proxy_addons.py. Long because the
threat model and the thread-or-process decision below stay beside the code they constrain.

Threat model
------------
Covered (in-process, for traffic the browser sends through the proxy):
  * A submitted URL, a redirect, an iframe, an image, ``fetch``/XHR, a WebSocket or a CONNECT tunnel
    that points at a loopback, private, link-local, CGNAT, metadata, multicast, reserved or
    IPv4-in-IPv6 (mapped, NAT64, 6to4, Teredo) address, or at a port other than 80/443, is refused
    with ``403`` + ``X-Vaern-Blocked`` and listed in ``ProxyRecord.blocked``. Its content never
    reaches the browser, the WARC or any artifact. Only exact ``(host, port)`` pairs from
    ``allowed_hosts`` are exempt.
  * DNS rebinding: the proxy resolves the host itself, validates *every* address, and connects to
    the validated IP (pinned for the session); TLS SNI and certificate checks still use the host name.
  * Upstream TLS is verified by the proxy (``ssl_insecure`` stays False); the browser context uses
    ``ignore_https_errors=True`` because it sees the proxy's interception certificate.
  * Chromium's own background traffic (component updates, Google accounts, safe browsing) is denied
    and listed separately as ``noise``.
Not covered here:
  * Traffic that does not use the proxy: QUIC/UDP (the engine must pass ``--disable-quic``), WebRTC
    (``--webrtc-ip-handling-policy=disable_non_proxied_udp``), DNS prefetch by the browser (harmless:
    no connection), and anything a browser exploit does outside Chromium's network stack. The
    kernel-level backstop (a dedicated uid whose traffic nftables restricts to the proxy port) lives
    outside this process and is a deployment task.
  * The proxy listens on 127.0.0.1 without authentication. Any local process can use it under the
    same policy; traffic on the base port is refused, but a local process that finds an open
    session's port could add exchanges to that capture's record. Værn's host is trusted.
  * Resolver answers are validated, not trusted: a hostile resolver can at worst send a host to a
    different public address (or make it unreachable).
  * The browser accepts any certificate (``--ignore-certificate-errors`` and
    ``ignore_https_errors``): it only ever talks TLS to the proxy, which does the real verification.
    Without the launch flag Chromium aborts the first handshake per connection and retries, which
    works but doubles the TLS handshakes (mitmproxy logs "Client TLS handshake failed").

Fidelity: mitmproxy speaks HTTP/1.1 on both sides (``http2=False``), so each exchange is recorded as
received: request line, header names/values in order and case, bodies with their Content-Encoding.
Header whitespace and chunked transfer framing are normalised by the parser (a chunked body is
stored as one chunk). WebSocket handshakes are recorded; WebSocket messages are only counted.

Flow attribution: one listening port per session (``open_session``). Each browser context gets its
own ``proxy={"server": "http://127.0.0.1:<port>"}``; a connection belongs to the session whose port
it arrived on (fixed when the connection is accepted). The browser itself is launched with
``launch_proxy()`` (the base port), which refuses everything: background traffic and any context
opened without a session proxy. Verified with Chromium 156: per-context proxies work without a
launch proxy too, but then a context created without ``proxy=`` goes direct, so always pass both.
Playwright adds ``<-loopback>`` to the bypass list, so loopback targets reach the proxy as well.

How the engine uses it::

    egress = EgressProxy(options.allowed_hosts).start()            # once per process (~0.1-0.3 s)
    browser = await pw.chromium.launch(executable_path=..., proxy=egress.launch_proxy(),
                                       args=[*BROWSER_ARGS, ...])
    session = egress.open_session(max_bytes=options.max_bytes)      # per capture, < 1 ms
    ctx = await browser.new_context(proxy=session.playwright_proxy(), ignore_https_errors=True,
                                    service_workers="block", accept_downloads=False, ...)
    ...                                                             # navigate, screenshot, ...
    await ctx.close()
    record = await session.aclose()                                 # or session.close() off-loop
    manifest.update(record.manifest_fields(requested_url))
    warc = record.warc_bytes({"capture_id": ..., "operator": ...})
    egress.stop()                                                   # at process end

A blocked document shows up as a ``403`` whose ``X-Vaern-Blocked`` header holds the code; a refused
CONNECT (https/wss) is a network error in the browser. Either way ``record.blocked`` says why.

Why the proxy runs in a thread of the capturing process, not in a process of its own (issue 10
point 7, measured December 2026 on the 2-core build host with benchmarks/capture_overhead.py and
/proc CPU accounting): the whole Python process (Playwright's loop, this proxy, hashing, WARC) used
about 0.05 CPU-s per capture of the plain fixture post and 0.2 of 2.4 CPU-s on a 40-post feed with
44 images (5-9 %); the rest is Chromium and the Playwright driver. A whole Værn capture of the
plain post used 0.9-1.2 CPU-s, a bare Playwright capture of it 0.9-1.0 (four runs, load 22-25). Two ``vaern worker`` processes have two interpreters, so the
proxy cannot hold a lock the other worker needs, and inside one process it holds the GIL for at
most that share. What limits two workers on two cores is Chromium's CPU, which a proxy process would
not reduce; it would add a control channel and a copy of every recorded body. Not measured: HTTPS-heavy
pages, where mitmproxy decrypts and re-encrypts in this process. Should a profile show the proxy
thread near a quarter of a core, move it: the seam is already narrow (``open_session()`` gives a
port, ``close()`` gives a ``ProxyRecord`` of plain str/bytes/int dataclasses), and a child process
would need only mitmproxy plus capture/proxy.py, proxy_addons.py, policy.py, traffic.py and errors.py (stdlib apart
from mitmproxy and, for the certificate summary, cryptography). It could therefore run from its own
environment and free Værn's from mitmproxy's ``cryptography`` pin (issue 15 point 1). The
DNS-rebinding tests patch ``resolve`` in this process and would need a seam in the child.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
import warnings
from types import SimpleNamespace
from typing import Any

from capture.errors import CaptureFailed
from capture.proxy_addons import BLOCK_HEADER, NOISE_HOSTS, PolicyAddon
from capture.traffic import FIDELITY, Blocked, Exchange, MainExchange, ProxyRecord

log = logging.getLogger(__name__)
logging.getLogger("mitmproxy").addHandler(logging.NullHandler())

#: Chromium flags the proxy relies on: no QUIC/UDP around the proxy, and TLS verification left to it.
BROWSER_ARGS = ("--disable-quic", "--webrtc-ip-handling-policy=disable_non_proxied_udp",
                "--force-webrtc-ip-handling-policy=disable_non_proxied_udp", "--ignore-certificate-errors")

_mitm: Any = None


def _import_mitmproxy() -> Any:
    """Import mitmproxy (~0.6 s) on first use, not when capture/ is imported."""
    global _mitm
    if _mitm is None:
        with warnings.catch_warnings():
            # mitmproxy.addons imports proxyauth -> ldap3, which uses pyasn1 names deprecated since 0.6.
            warnings.filterwarnings("ignore", r"(tagMap|typeMap) is deprecated", DeprecationWarning)
            from mitmproxy import http, options
            from mitmproxy.addons import disable_h2c, next_layer, proxyserver, tlsconfig
            from mitmproxy.master import Master
            from mitmproxy.proxy.mode_servers import ServerInstance
        _mitm = SimpleNamespace(http=http, options=options, disable_h2c=disable_h2c, next_layer=next_layer,
                                proxyserver=proxyserver, tlsconfig=tlsconfig, Master=Master,
                                ServerInstance=ServerInstance)
    return _mitm


class ProxySession:
    """One capture's slice of the proxy: its own listening port, limits and record."""

    def __init__(self, proxy: "EgressProxy", max_bytes: int, allowed_hosts: tuple[tuple[str, int], ...],
                 noise_hosts: frozenset[str]):
        self.id = uuid.uuid4().hex
        self.proxy = proxy
        self.max_bytes = max_bytes
        self.allowed_hosts = allowed_hosts
        self.noise_hosts = noise_hosts
        self.port: int = 0
        self._instance: Any = None
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._blocked: list[Blocked] = []
        self._noise: list[Blocked] = []
        self._failed: list[dict[str, Any]] = []
        self._pins: dict[tuple[str, int], str] = {}  #: (host, port) -> the validated IP; only on the proxy loop
        self._in_flight: set[str] = set()
        self.bytes_total = 0
        self.over_limit = False
        self.closed = False
        self._record: ProxyRecord | None = None

    def playwright_proxy(self) -> dict[str, str]:
        """Pass as ``browser.new_context(proxy=...)``."""
        return {"server": f"http://127.0.0.1:{self.port}"}

    def close(self, timeout: float = 2.0) -> ProxyRecord:
        """Wait up to ``timeout`` s for this session's in-flight requests, stop its port, return its record.

        Later requests on connections still open get a 403 ``session_closed``; idempotent.
        """
        if self._record is not None:
            return self._record
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._in_flight:
                    break
            time.sleep(0.02)
        with self._lock:
            self.closed = True
            self._record = ProxyRecord(
                exchanges=list(self._exchanges), blocked=list(self._blocked), noise=list(self._noise),
                failed=list(self._failed), bytes_total=self.bytes_total, over_limit=self.over_limit,
                in_flight_at_close=len(self._in_flight))
        self.proxy._close_session(self)
        return self._record

    async def aclose(self, timeout: float = 2.0) -> ProxyRecord:
        """``close`` for callers on an event loop (it sleeps while waiting for in-flight requests)."""
        return await asyncio.to_thread(self.close, timeout)

    def __enter__(self) -> "ProxySession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- called on the proxy's loop --------------------------------------------------------------

    def _block(self, entry: Blocked, noise: bool = False) -> None:
        with self._lock:
            if not self.closed:
                (self._noise if noise else self._blocked).append(entry)

    def _add_bytes(self, n: int) -> bool:
        """Count ``n`` more bytes; False (and nothing counted) once the session would go over its cap."""
        with self._lock:
            if self.over_limit or self.bytes_total + n > self.max_bytes:
                self.over_limit = True
                return False
            self.bytes_total += n
            return True


class EgressProxy:
    """mitmproxy in a background thread on 127.0.0.1: checks and records every browser connection.

    ``start()`` once per process, then ``open_session()`` per capture; ``stop()`` or use as a context
    manager. Several EgressProxy objects in one process share one mitmproxy runtime (mitmproxy keeps
    its master in a module global); each has its own base port and sessions. ``confdir`` (where the
    interception CA lives; default: a temporary directory) is taken from the first one started;
    ``extra_ca_file`` adds to the upstream trust of the shared runtime.
    """

    def __init__(self, allowed_hosts: tuple[tuple[str, int], ...] = (), *, extra_ca_file: str | None = None,
                 confdir: str | None = None, max_bytes: int = 200 * 1024 * 1024,
                 noise_hosts: frozenset[str] = NOISE_HOSTS, start_timeout: float = 15.0):
        self.allowed_hosts = tuple(allowed_hosts)
        self.extra_ca_file = extra_ca_file
        self.max_bytes = max_bytes
        self.noise_hosts = frozenset(noise_hosts)
        self.start_timeout = start_timeout
        self.confdir = confdir
        self.port = 0  #: the base port (launch_proxy); refuses everything
        self._rt: _Runtime | None = None
        self._base: Any = None
        self._open: set[ProxySession] = set()
        self._lock = threading.Lock()

    def start(self) -> "EgressProxy":
        """Start (or join) the runtime and open the base port; raises CaptureFailed."""
        with self._lock:
            if self._rt is not None:
                return self
            rt = _Runtime.acquire(self.confdir, self.start_timeout)
            try:
                if self.extra_ca_file:
                    rt.add_ca(self.extra_ca_file)
                self._base = rt.call(rt.listen())
            except BaseException as e:
                _Runtime.release(rt)
                raise CaptureFailed(f"egress proxy could not open its port: {e!r}") from e
            self.port = self._base.listen_addrs[0][1]
            rt.listen_ports.add(self.port)
            self._rt = rt
        return self

    def stop(self) -> None:
        """Close this proxy's sessions and base port; the runtime stops with its last user. Idempotent."""
        with self._lock:
            rt, self._rt = self._rt, None
            if rt is None:
                return
            sessions, self._open = list(self._open), set()
            try:
                for s in sessions:
                    s.closed = True
                    rt.call(rt.stop_session(s), timeout=5)
                rt.listen_ports.discard(self.port)
                if self._base is not None and rt.running:
                    rt.call(rt.stop_listener(self._base), timeout=5)
            except Exception as e:  # noqa: BLE001 - the runtime may be gone already; release it anyway
                log.warning("egress proxy: closing ports failed: %r", e)
            finally:
                self._base = None
                _Runtime.release(rt)

    def __enter__(self) -> "EgressProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._rt is not None and self._rt.running

    def launch_proxy(self) -> dict[str, str]:
        """Pass as ``chromium.launch(proxy=...)``: the base port, which refuses all traffic."""
        return {"server": f"http://127.0.0.1:{self.port}"}

    def open_session(self, max_bytes: int | None = None,
                     allowed_hosts: tuple[tuple[str, int], ...] | None = None) -> ProxySession:
        """A new session on its own port (< 1 ms); limits default to the proxy's. Raises CaptureFailed."""
        rt = self._rt
        if rt is None or not rt.running:
            raise CaptureFailed("egress proxy is not running")
        s = ProxySession(self, self.max_bytes if max_bytes is None else max_bytes,
                         self.allowed_hosts if allowed_hosts is None else tuple(allowed_hosts), self.noise_hosts)
        try:
            rt.call(rt.start_session(s), timeout=10)
        except Exception as e:
            raise CaptureFailed(f"egress proxy could not open a session port: {e!r}") from e
        with self._lock:
            self._open.add(s)
        return s

    def _close_session(self, s: ProxySession) -> None:
        with self._lock:
            self._open.discard(s)
        rt = self._rt
        if rt is None or not rt.running:
            return
        try:
            rt.call(rt.stop_session(s), timeout=5)
        except Exception as e:  # noqa: BLE001 - stop() closes it at the latest
            log.warning("egress proxy: closing session port %s failed: %r", s.port, e)


class _Runtime:
    """The process's one mitmproxy master, on its own asyncio loop in a daemon thread."""

    _current: "_Runtime | None" = None
    _guard = threading.Lock()

    def __init__(self, confdir: str | None, start_timeout: float):
        self.own_confdir = None if confdir else tempfile.mkdtemp(prefix="vaern-proxy-")
        self.confdir: str = confdir or self.own_confdir  # type: ignore[assignment]
        self.start_timeout = start_timeout
        self.users = 0
        self.sessions: dict[int, ProxySession] = {}  #: session port -> session
        self.conn_sessions: dict[str, ProxySession | None] = {}  #: client connection id -> session
        self.listen_ports: set[int] = set()
        self.extra_cas: list[str] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.master: Any = None
        self.proxyserver: Any = None
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="vaern-egress-proxy", daemon=True)

    @classmethod
    def acquire(cls, confdir: str | None, start_timeout: float) -> "_Runtime":
        with cls._guard:
            rt = cls._current
            if rt is None or not rt.running:
                _import_mitmproxy()
                rt = cls(confdir, start_timeout)
                rt.thread.start()
                if not rt.ready.wait(start_timeout) or rt.error is not None or not rt.running:
                    err = rt.error
                    rt._shutdown()
                    raise CaptureFailed(f"egress proxy did not start: {err!r}")
                cls._current = rt
            rt.users += 1
            return rt

    @classmethod
    def release(cls, rt: "_Runtime") -> None:
        with cls._guard:
            rt.users -= 1
            if rt.users > 0:
                return
            if cls._current is rt:
                cls._current = None
        rt._shutdown()

    @property
    def running(self) -> bool:
        return self.thread.is_alive() and self.ready.is_set() and self.error is None

    def call(self, coro: Any, timeout: float = 10) -> Any:
        """Run ``coro`` on the proxy loop and wait for its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def add_ca(self, path: str) -> None:
        """Trust ``path`` (PEM) upstream, besides certifi's roots."""
        if path in self.extra_cas:
            return
        self.extra_cas.append(path)
        import certifi
        # a new file name each time: mitmproxy caches TLS contexts by the CA file's path
        bundle = os.path.join(self.confdir, f"vaern-upstream-ca-{len(self.extra_cas)}.pem")
        with open(bundle, "wb") as out:
            for src in (certifi.where(), *self.extra_cas):
                with open(src, "rb") as f:
                    out.write(f.read() + b"\n")

        async def apply() -> None:
            self.master.options.update(ssl_verify_upstream_trusted_ca=bundle)
        self.call(apply())

    async def listen(self) -> Any:
        """A new regular-proxy listener on 127.0.0.1:<ephemeral>."""
        for attempt in range(3):  # mitmproxy picks the port by binding and closing a probe socket: a race
            inst = _import_mitmproxy().ServerInstance.make("regular@127.0.0.1:0", self.proxyserver)
            try:
                await inst.start()
                return inst
            except OSError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def stop_listener(self, inst: Any) -> None:
        if inst.is_running:
            await inst.stop()

    async def start_session(self, s: ProxySession) -> None:
        s._instance = await self.listen()
        s.port = s._instance.listen_addrs[0][1]
        self.sessions[s.port] = s
        self.listen_ports.add(s.port)

    async def stop_session(self, s: ProxySession) -> None:
        if self.sessions.get(s.port) is s:
            del self.sessions[s.port]
            self.listen_ports.discard(s.port)
        if s._instance is not None:
            await self.stop_listener(s._instance)

    def _shutdown(self) -> None:
        if self.loop is not None and self.master is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.master.should_exit.set)
        if self.thread.is_alive():
            self.thread.join(10)
        if self.own_confdir:
            shutil.rmtree(self.own_confdir, ignore_errors=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as e:  # noqa: BLE001 - reported to acquire()
            self.error = e
            log.exception("egress proxy stopped with an error")
        finally:
            try:
                tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in tasks:
                    t.cancel()
                if tasks:
                    loop.run_until_complete(asyncio.wait(tasks, timeout=3))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
                self.ready.set()

    async def _main(self) -> None:
        m = _import_mitmproxy()
        opts = m.options.Options()
        master = m.Master(opts, event_loop=asyncio.get_running_loop())
        self.master = master
        self.proxyserver = m.proxyserver.Proxyserver()
        addon = PolicyAddon(self)
        master.addons.add(self.proxyserver, m.next_layer.NextLayer(), m.tlsconfig.TlsConfig(),
                          m.disable_h2c.DisableH2C(), addon)
        opts.update(
            mode=[], listen_host="127.0.0.1", confdir=self.confdir, ssl_insecure=False, http2=False,
            http3=False, websocket=True, rawtcp=False, connection_strategy="eager", upstream_cert=True,
        )
        run = asyncio.create_task(master.run())
        try:
            await asyncio.wait_for(addon.started.wait(), self.start_timeout)
            self.ready.set()
            await run
        finally:
            for s in list(self.sessions.values()):
                await self.stop_session(s)
            if not run.done():
                master.should_exit.set()
                await run
            for handler in list(self.proxyserver.connections.values()):
                for io_ in list(handler.transports.values()):
                    if io_.handler is not None:
                        io_.handler.cancel()


__all__ = ["EgressProxy", "ProxySession", "ProxyRecord", "Exchange", "MainExchange", "Blocked",
           "BLOCK_HEADER", "BROWSER_ARGS", "NOISE_HOSTS", "FIDELITY"]
