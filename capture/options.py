"""Capture limits and switches: a plain value object, built by the application's settings."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CaptureOptions:
    """Everything capture/ needs to know; capture/ never reads the environment itself."""

    chromium_path: str | None = None  #: None: Playwright's own browser if installed, else the system Chromium
    time_cap_seconds: int = 60  #: per capture; a page that never finishes yields what rendered, status timed_out
    network_idle_seconds: int = 10  #: wait for network quiet at most this long
    max_page_height: int = 40_000  #: CSS px; taller pages are cut and the capture is marked truncated
    max_bytes: int = 200 * 1024 * 1024  #: total response bytes one capture may download
    scroll_seconds: int = 10  #: time budget for step-wise scrolling (lazy content)
    viewport_width: int = 1280
    viewport_height: int = 900
    locale: str = "da-DK"
    timezone: str = "Europe/Copenhagen"
    user_agent: str | None = None  #: None: the browser's own, with "HeadlessChrome" replaced by "Chrome"
    pdf: bool = False  #: also print the page to PDF
    restart_after: int = 50  #: restart the browser after this many captures
    concurrency: int = 2  #: captures one Capturer runs at once (about one per CPU core, tech.md §2)
    #: (host, port) pairs that may be reached although they resolve to a private address (tests, intranet)
    allowed_hosts: tuple[tuple[str, int], ...] = ()
    upload_max_bytes: int = 50 * 1024 * 1024
    #: uploaded images declaring more pixels are refused (too_many_pixels) before decoding; Pillow's global
    #: Image.MAX_IMAGE_PIXELS bomb check (same default) still applies on top
    upload_max_pixels: int = 89_478_485
    tsa_url: str | None = None  #: RFC 3161 time-stamping authority; None: no timestamp
    tsa_ca_file: str | None = None  #: PEM root(s) that the TSA's token must chain to
    tsa_timeout_seconds: int = 10
    #: where the egress proxy keeps its interception CA; None: a fresh temporary one per process (slower start)
    proxy_confdir: str | None = None
    versions: dict[str, str] = field(default_factory=dict)  #: extra versions to record (e.g. vaern)


def parse_allowed_hosts(value: str) -> tuple[tuple[str, int], ...]:
    """Parse ``"host:port,host:port"``; raise ValueError naming the bad entry."""
    pairs: list[tuple[str, int]] = []
    for raw in (value or "").split(","):
        item = raw.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"allowed host {item!r} is not host:port")
        pairs.append((host.strip("[]").lower(), int(port)))
    return tuple(pairs)
