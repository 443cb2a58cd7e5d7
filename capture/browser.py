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

#: how much lower than the web pages the capture browser runs (0 = same priority, 19 = lowest): a capture runs
#: inside `vaern serve` in the embedded default, and its Chromium must not slow the pages people wait for
#: (benchmarks/responsiveness.py --during capture); it still gets all the processor time the pages leave
CAPTURE_NICENESS = 10

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


def lower_descendants(nice: int) -> None:
    """Run every process this one started (Playwright's driver, Chromium and its helpers) at ``nice`` or lower.

    Playwright starts Chromium in a session of its own, so on Linux in a scheduler autogroup of its own at full
    weight (nice 0): a nice only counts inside its autogroup, so the group's nice is lowered too. Each thread is
    lowered (a nice is per thread; Chromium starts its threads before it can be reached). Nothing is raised, and
    lowering one's own processes needs no privilege; where it is refused, they go on at their priority.
    """
    me = os.getpid()
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    todo = list(children.get(me, []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        proc = Path("/proc") / str(pid)
        try:
            for task in (proc / "task").iterdir():
                tid = int(task.name)
                os.setpriority(os.PRIO_PROCESS, tid, max(nice, os.getpriority(os.PRIO_PROCESS, tid)))
            group_nice = autogroup_nice(pid)
            if group_nice is not None and group_nice < nice:
                (proc / "autogroup").write_text(str(nice))
        except (OSError, ValueError):
            pass


def autogroup_nice(pid: int | str = "self") -> int | None:
    """The nice of the scheduler autogroup ``pid`` runs in, or None where it runs in none (or has ended)."""
    try:
        return parse_autogroup((Path("/proc") / str(pid) / "autogroup").read_text())
    except OSError:
        return None


def parse_autogroup(text: str) -> int | None:
    """The nice in a /proc/PID/autogroup text ("/autogroup-N nice X"), or None where it holds none.

    The file is absent where the kernel has no autogroups, and the kernel writes nothing in it when it finds no
    autogroup for the task (it looks the group up through the task's signal handlers, which a task that has just
    ended and been reaped no longer has). CI once read it empty for one of Chromium's short-lived helpers, and no capture could start.
    """
    fields = text.split()
    if len(fields) == 3 and fields[0].startswith("/autogroup-") and fields[1] == "nice":
        try:
            return int(fields[2])
        except ValueError:
            return None
    return None
