"""Finding and launching Chromium, and knowing which versions did the capture.

Playwright only guarantees its bundled Chromium; on Debian we drive the system Chromium of the same
major (tech.md §1). The mismatch check warns at launch and both versions go into every manifest.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from importlib import metadata
from pathlib import Path

from .errors import CaptureFailed

log = logging.getLogger(__name__)

#: The real binary: the Debian wrapper script adds flags from /etc/chromium.d (less reproducible).
SYSTEM_CHROMIUM = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")

#: Keep every byte on the filtering proxy and stop the browser's own background traffic (tech.md §1, §7).
LAUNCH_ARGS: tuple[str, ...] = (
    "--disable-quic",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-breakpad",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--dns-prefetch-disable",
    "--hide-scrollbars",
    "--mute-audio",
)


def playwright_version() -> str:
    return metadata.version("playwright")


def bundled_chromium_version() -> str | None:
    """The Chromium version this Playwright driver was built for (its browsers.json)."""
    import playwright

    path = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    try:
        browsers = json.loads(path.read_text("utf-8"))["browsers"]
    except (OSError, ValueError, KeyError):
        return None
    return next((b.get("browserVersion") for b in browsers if b.get("name") == "chromium"), None)


def find_chromium(configured: str | None, playwright_own: str | None) -> str | None:
    """Executable to launch: the configured path, else Playwright's own browser if installed, else system Chromium.

    Returns None only for Playwright's own (launch without ``executable_path``). Raises CaptureFailed
    when nothing usable exists.
    """
    if configured:
        if not os.access(configured, os.X_OK):
            raise CaptureFailed(f"configured Chromium {configured!r} is not an executable file")
        return configured
    if playwright_own and os.access(playwright_own, os.X_OK):
        return None
    for candidate in SYSTEM_CHROMIUM:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    raise CaptureFailed("no Chromium found: install Playwright's browser or the system chromium package")


def major(version: str | None) -> str | None:
    return version.split(".", 1)[0] if version else None


def check_version_match(browser_version: str, bundled: str | None) -> bool:
    """Warn when the browser's major differs from the one this Playwright was built for."""
    if bundled and major(browser_version) != major(bundled):
        log.warning("Chromium %s does not match the Chromium %s Playwright %s was built for; "
                    "captures may misbehave", browser_version, bundled, playwright_version())
        return False
    return True
