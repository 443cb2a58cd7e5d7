"""Facts about the machine the tests run on (which Chromium, its version, a font), read, not written into tests.

``CHROMIUM`` is found without starting anything (unit tests may import it); the version is asked of
the browser itself and the font of fontconfig, so only tests that may start programs call those.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess

from capture.browser import SYSTEM_CHROMIUM, major


def _find_chromium() -> str | None:
    """$VAERN_CHROMIUM_PATH, else the system Chromium's real binary (as capture.browser looks for it)."""
    configured = os.environ.get("VAERN_CHROMIUM_PATH")
    if configured:
        return configured
    for candidate in SYSTEM_CHROMIUM:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    return None  # Playwright's own browser (launch without executable_path)


#: the Chromium executable the tests launch; None: Playwright's own browser
CHROMIUM: str | None = _find_chromium()


@functools.cache
def chromium_version() -> str:
    """The full version of ``CHROMIUM`` as the browser reports it, e.g. "156.0.8078.108"."""
    if CHROMIUM is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(headless=True)
            try:
                return browser.version
            finally:
                browser.close()
    out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=60, check=True).stdout
    return re.search(r"\d+(?:\.\d+)+", out).group(0)


def chromium_major() -> str:
    """The major version of ``CHROMIUM``, e.g. "156"."""
    return major(chromium_version())


@functools.cache
def sans_font() -> str:
    """A sans-serif TrueType font file with Danish letters, as fontconfig finds it (DejaVu Sans if present)."""
    out = subprocess.run(["fc-match", "-f", "%{file}", "DejaVu Sans:style=Book"], capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert out, "fontconfig found no sans-serif font (install fonts-dejavu-core; ./manage.sh test does)"
    return out
