"""The one run record every capture stage reads and extends, and the stage shape itself.

A stage is a small object with a ``name`` (what the actions log calls it), the ``Limits`` it works
within, and ``async run(run)``. The pipeline (capture/steps.py) only orders stages; a failing stage
is logged with its reason and the run goes on (STYLE.md §7).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable

from .adapters import Adapter
from .bundle import Artifact
from .options import CaptureOptions

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

    from .events import NetworkMonitor

log = logging.getLogger(__name__)

ROLE_FILES = {
    "screenshot_full": ("screenshot_full.png", "image/png"),
    "screenshot_viewport": ("screenshot_viewport.png", "image/png"),
    "screenshot_wall": ("screenshot_wall.png", "image/png"),
    "screenshot_post": ("screenshot_post.png", "image/png"),
    "mhtml": ("page.mhtml", "multipart/related"),
    "html": ("page.html", "text/html"),
    "text": ("text.txt", "text/plain; charset=utf-8"),
    "warc": ("traffic.warc.gz", "application/warc"),
    "pdf": ("page.pdf", "application/pdf"),
}
SETTLE_SHARE = 0.6  #: share of the time cap the settle phase may use; recording gets the rest


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class CaptureRun:
    """Everything one capture knows so far; stages read and extend it."""

    url: str  #: the normalised URL navigated to
    requested_url: str
    operator: str
    options: CaptureOptions
    adapter: Adapter
    context: BrowserContext | None
    page: Page | None
    started: datetime = field(default_factory=utc_now)
    t0: float = field(default_factory=time.monotonic)
    net: NetworkMonitor | None = None  #: requests in flight (capture/events.py), set when handlers attach
    actions: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    pending: set[asyncio.Task[Any]] = field(default_factory=set)
    response: Any = None  #: Playwright Response of the main document
    redirect_chain: list[dict[str, Any]] = field(default_factory=list)
    http: dict[str, Any] | None = None
    extracted: dict[str, Any] = field(default_factory=dict)
    post_text: str | None = None
    page_height: int | None = None
    truncated: dict[str, int] | None = None
    consent: str | None = None  #: CMP name (or "generic") if a consent dialog was found
    consent_clicks: list[str] = field(default_factory=list)  #: "reject" / "close" / "accept", in order
    consent_still: bool = False  #: the dialog was still shown after Værn's last attempt
    walls: dict[str, Any] = field(default_factory=dict)  #: the last WALLS_JS result (password field, overlay)
    cover: dict[str, Any] | None = None  #: COVER_JS result, measured right before recording
    #: main-frame document requests in order: (url, is an HTTP redirect hop)
    nav_requests: list[tuple[str, bool]] = field(default_factory=list)
    moves_followed: int = 0  #: page moves (meta refresh, script) already waited for
    moves_before_recording: int = 0
    not_found: str | None = None  #: reason, if removed/not found
    timed_out: str | None = None  #: reason, if the time cap cut the run short
    over_limit: str | None = None  #: reason, if the proxy's byte limit cut responses
    failed: str | None = None  #: reason, if nothing usable could be captured
    hash_task: asyncio.Task[Any] | None = None
    cdp: Any = None  #: CDPSession, opened on first use
    profile: Any = None  #: the CaptureProfile (capture/profiles.py) whose storage state the context got
    #: the viewport PNG once taken (None if it failed): the post shot is cut from it when it fits
    viewport_shot: asyncio.Future[bytes | None] | None = None

    # --- time budget -------------------------------------------------------------------------
    @property
    def cap(self) -> float:
        return float(self.options.time_cap_seconds)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def settle_left(self) -> float:
        """Seconds the settle phase may still use (60 % of the cap, leaving the rest to recording)."""
        return max(0.0, self.cap * SETTLE_SHARE - self.elapsed())

    def record_left(self) -> float:
        """Seconds left before the recording phase must stop (the rest is salvage reserve)."""
        return max(0.0, self.cap - salvage_reserve(self.cap) - self.elapsed())

    # --- logging ------------------------------------------------------------------------------
    def log(self, step: str, detail: str) -> None:
        self.actions.append({"at": iso_utc(utc_now()), "step": step, "detail": detail})

    def add(self, role: str, data: bytes) -> None:
        name, media_type = ROLE_FILES[role]
        self.artifacts[role] = Artifact(name=name, role=role, media_type=media_type, data=data)

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run an event handler's work as a task the engine awaits before closing the context."""
        task = asyncio.ensure_future(coro)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)


def page_starts(run: CaptureRun) -> list[str]:
    """Main-document addresses the browser started on (not the hops of an HTTP redirect)."""
    return [u for u, redirect in run.nav_requests if not redirect]


def page_moves(run: CaptureRun) -> int:
    """Times the page itself went to another address (meta refresh, script, location change); not redirects,
    not a repeated request for the address it is on (a reload, Chromium retrying a refused connection)."""
    starts = page_starts(run)
    return sum(1 for prev, cur in zip(starts, starts[1:]) if cur != prev)


def salvage_reserve(cap: float) -> float:
    """Seconds kept back from the cap to salvage what rendered when the recording phase overruns."""
    return min(8.0, cap * 0.2)


def ms(seconds: float) -> float:
    """Playwright timeout in ms; never 0, which Playwright reads as "no timeout"."""
    return max(1.0, seconds * 1000)


def short_error(exc: BaseException) -> str:
    """One line for the actions log and notes: exception type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return (f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__)[:300]


# --- stages -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Limits:
    """What bounds a stage. ``phase``: the phase it runs in, whose budget its waits use ("settle": the first
    60 % of the time cap; "record": up to the salvage reserve). ``seconds``/``pixels``/``bytes`` name the
    ``CaptureOptions`` field (or give a number) that bounds it further; stages read them through
    ``seconds_left``/``max_pixels``, so what a stage declares is what it obeys. Bytes are enforced by the
    egress proxy per session (capture/proxy_addons.py); a stage only declares that its traffic counts.
    """

    phase: str
    seconds: str | float | None = None  #: an option name or a fixed cap in seconds, within the phase
    pixels: str | None = None  #: option bounding the page height the stage reads or renders
    bytes: str | None = None  #: option bounding the bytes the stage's traffic may bring

    def phase_left(self, run: CaptureRun) -> float:
        return run.settle_left() if self.phase == "settle" else run.record_left()

    def seconds_left(self, run: CaptureRun) -> float:
        """The stage's own cap (if any) within what its phase has left."""
        left = self.phase_left(run)
        if self.seconds is None:
            return left
        cap = float(getattr(run.options, self.seconds) if isinstance(self.seconds, str) else self.seconds)
        return min(cap, left)

    def max_pixels(self, run: CaptureRun) -> int:
        assert self.pixels is not None, "this stage declares no pixel limit"
        return int(getattr(run.options, self.pixels))


class Stage:
    """One step of the pipeline. Subclasses set ``name`` and ``limits`` and implement ``run``."""

    name: str = "stage"
    limits: Limits = Limits(phase="settle")

    async def run(self, run: CaptureRun) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<stage {self.name} {self.limits}>"


async def run_stage(run: CaptureRun, stage: Stage) -> bool:
    """Run one stage; a failure is logged with its reason and does not stop the capture."""
    try:
        await stage.run(run)
        return True
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - any stage failure is evidence of what happened, not a crash
        reason = f"{stage.name} failed: {short_error(exc)}"
        run.log(stage.name, reason)
        run.notes.append(reason)
        log.info("capture step %s failed for %s: %s", stage.name, run.url, exc)
        return False
