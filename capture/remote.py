"""The remote browser (issue 14): an interactive Chromium page in the capture machinery, for an administrator
to log in to a platform account so that its storage state can become a capture profile.

It is a context of the Capturer's own browser, leased from the same pool with its own session on the same
egress proxy (capture/proxy.py): every connection it makes is judged by the capture policy (no private or
loopback address, ports 80/443, only the allow-listed exceptions). The page is shown to the administrator
as a CDP screencast (``Page.startScreencast``: JPEG frames, the latest one kept in memory); mouse clicks,
wheel scrolling and keys are replayed with Playwright's mouse and keyboard. ``storage_state()`` hands the
context's cookies and local storage to the caller, which encrypts and stores them.

What is typed is not kept: a key or a text goes to the page and nowhere else — no log line, no attribute of
this object; an input that fails is reported as failed without its content. The proxy session's record (which
holds the login request, password included, in memory) is discarded unread when the session closes. The
context is Chromium's in-memory kind (Playwright's ``new_context``): nothing of it is written to disk.
Everything async runs on the Capturer's loop; the public methods are blocking and thread-safe.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from .errors import CaptureFailed
from .options import CaptureOptions
from .run import short_error

log = logging.getLogger(__name__)

MOUSE_BUTTONS = ("left", "right", "middle")
MAX_TEXT = 1000  #: characters one text input may carry
NAMED_KEYS = frozenset({
    "Enter", "Tab", "Backspace", "Delete", "Escape", "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home",
    "End", "PageUp", "PageDown", "Insert", "Space"})
MODIFIERS = ("Control", "Alt", "Shift", "Meta")
CALL_SECONDS = 20.0  #: one input or navigation waits at most this long


class RemoteInputError(ValueError):
    """An input event that is not one the remote browser accepts (the message never repeats its content)."""


@dataclass
class Frame:
    seq: int
    jpeg: bytes
    url: str
    title: str


def key_allowed(key: str) -> bool:
    """A named key, optionally with modifiers (``Control+a``, ``Shift+Tab``); single characters go as text."""
    *mods, last = key.split("+") if key != "+" else ["+"]
    if any(m not in MODIFIERS for m in mods):
        return False
    return last in NAMED_KEYS or (len(last) == 1 and bool(mods))


class RemoteBrowser:
    """One live page for one administrator. Create with ``Capturer.open_remote``; ``close()`` when done."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pool: Any, lease: Any, opts: CaptureOptions):
        self._loop, self._pool, self._lease, self._opts = loop, pool, lease, opts
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._seq = 0
        self._cdp: Any = None
        self._pages: list[Any] = [lease.page]
        self.closed = False
        self.width, self.height = opts.viewport_width, opts.viewport_height

    # -- set-up (on the loop) ------------------------------------------------------------------
    async def _start(self, target: str) -> None:
        self._lease.context.on("page", lambda p: asyncio.ensure_future(self._adopt(p)))
        await self._screencast(self._lease.page)
        try:
            await self._lease.page.goto(target, wait_until="domcontentloaded", timeout=30_000)
        except Exception as exc:  # noqa: BLE001 - a refused or failed page still shows (the browser's error page)
            log.info("remote browser: the start page did not load: %s", short_error(exc))

    async def _adopt(self, page: Any) -> None:
        """A pop-up (a login window) becomes the page shown; when it closes, the one before it again."""
        self._pages.append(page)
        page.on("close", lambda p: asyncio.ensure_future(self._dropped(p)))
        await self._screencast(page)

    async def _dropped(self, page: Any) -> None:
        if page in self._pages:
            self._pages.remove(page)
        if self._pages and not self.closed:
            await self._screencast(self._pages[-1])

    async def _screencast(self, page: Any) -> None:
        if self._cdp is not None:
            try:
                await self._cdp.detach()
            except Exception:  # noqa: BLE001 - its page may be gone
                pass
        cdp = self._cdp = await page.context.new_cdp_session(page)

        def on_frame(params: dict[str, Any]) -> None:
            asyncio.ensure_future(self._ack(cdp, params.get("sessionId")))
            try:
                jpeg = base64.b64decode(params["data"])
            except (KeyError, ValueError):
                return
            asyncio.ensure_future(self._publish(page, jpeg, page.url))

        cdp.on("Page.screencastFrame", on_frame)
        await cdp.send("Page.startScreencast", {"format": "jpeg", "quality": 70, "maxWidth": self.width,
                                                "maxHeight": self.height, "everyNthFrame": 1})

    async def _ack(self, cdp: Any, session_id: Any) -> None:
        try:
            await cdp.send("Page.screencastFrameAck", {"sessionId": session_id})
        except Exception:  # noqa: BLE001 - a detached session needs no ack
            pass

    async def _publish(self, page: Any, jpeg: bytes, url: str) -> None:
        try:
            title = await asyncio.wait_for(page.title(), 2.0)
        except Exception:  # noqa: BLE001 - mid-navigation
            title = ""
        with self._cond:
            self._seq += 1
            self._frame = Frame(self._seq, jpeg, url, title)
            self._cond.notify_all()

    # -- the public, blocking API ----------------------------------------------------------------
    def frame_after(self, seq: int, wait: float) -> Frame | None:
        """The latest frame if it is newer than ``seq`` (waiting up to ``wait`` seconds for one), else None."""
        deadline = time.monotonic() + wait
        with self._cond:
            while not self.closed and (self._frame is None or self._frame.seq <= seq):
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self._frame if self._frame is not None and self._frame.seq > seq else None

    def click(self, x: float, y: float, button: str = "left") -> None:
        if button not in MOUSE_BUTTONS:
            raise RemoteInputError("unknown mouse button")
        x, y = self._point(x, y)
        self._run(lambda page: page.mouse.click(x, y, button=button))

    def scroll(self, x: float, y: float, dx: float, dy: float) -> None:
        x, y = self._point(x, y)
        dx, dy = max(-2000.0, min(2000.0, float(dx))), max(-2000.0, min(2000.0, float(dy)))

        async def wheel(page: Any) -> None:
            await page.mouse.move(x, y)
            await page.mouse.wheel(dx, dy)

        self._run(wheel)

    def key(self, key: str) -> None:
        if not isinstance(key, str) or not key_allowed(key):
            raise RemoteInputError("not a key the remote browser accepts")
        self._run(lambda page: page.keyboard.press(key))

    def text(self, text: str) -> None:
        if not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT:
            raise RemoteInputError(f"a text input is 1 to {MAX_TEXT} characters")
        self._run(lambda page: page.keyboard.type(text))

    def storage_state(self) -> dict[str, Any]:
        """The context's cookies and local storage (Playwright's storage state)."""
        return self._call(self._lease.context.storage_state(), CALL_SECONDS)

    def close(self) -> None:
        """Close the context and its proxy session (whose record is dropped unread); idempotent."""
        with self._cond:
            if self.closed:
                return
            self.closed = True
            self._frame = None
            self._cond.notify_all()

        async def end() -> None:
            # the context first (its connections end), then the proxy session, whose record (holding the
            # login request) is dropped here unread
            await self._pool.discard(self._lease)

        try:
            self._call(end(), CALL_SECONDS)
        except Exception as exc:  # noqa: BLE001 - a dead browser has closed it already
            log.info("remote browser: closing: %s", short_error(exc))

    # -- plumbing ---------------------------------------------------------------------------------
    def _point(self, x: float, y: float) -> tuple[float, float]:
        try:
            x, y = float(x), float(y)
        except (TypeError, ValueError):
            raise RemoteInputError("a position is two numbers") from None
        if not (0 <= x <= self.width and 0 <= y <= self.height):
            raise RemoteInputError("the position is outside the page")
        return x, y

    def _run(self, action: Any, timeout: float = CALL_SECONDS) -> None:
        if self.closed:
            raise CaptureFailed("the remote browser is closed")

        async def on_page() -> None:
            await action(self._pages[-1])

        try:
            self._call(on_page(), timeout)
        except CaptureFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - never repeat what was typed: the type of failure only
            raise CaptureFailed(f"the remote browser did not take the input ({type(exc).__name__})") from None

    def _call(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=timeout)


async def open_remote(pool: Any, opts: CaptureOptions, target: str, loop: asyncio.AbstractEventLoop) -> RemoteBrowser:
    lease = await pool.new_lease(opts)
    remote = RemoteBrowser(loop, pool, lease, opts)
    try:
        await remote._start(target)
    except BaseException:
        remote.closed = True
        await pool.discard(lease)
        raise
    return remote
