"""Print a self-contained HTML document to PDF with Chromium, with nothing able to reach the network.

Used for Værn's evidence reports. The document is rendered with JavaScript off, every request the page
would make is aborted (images must be ``data:`` URIs), and all traffic of the browser points at a dead
proxy. Printing runs in a child process of its own (with its own Playwright driver and Chromium), so the
hard timeout can end everything it started: a hung driver or browser is killed, never left behind.
Several documents can share one child and one Chromium (``html_to_pdfs``): a case package prints its
reports that way, since starting them costs more than printing.
"""
from __future__ import annotations

import asyncio
import html as html_mod
import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from playwright.async_api import async_playwright

from . import browser as browser_mod
from .errors import CaptureFailed
from .options import CaptureOptions

#: A closed port: browser traffic that slipped past the route guard would go here and fail.
DEAD_PROXY = {"server": "http://127.0.0.1:9", "bypass": "<-loopback>"}
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)  #: where the child process imports capture from
#: how much lower than the web server the printing child runs (0 = same priority, 19 = lowest)
PRINT_NICENESS = 10
#: the child lowers its priority before anything else (importing Playwright is work too). It runs in a
#: session of its own, so on Linux a scheduler autogroup of its own: nice counts only inside an autogroup,
#: so the group's nice is lowered too (where the kernel has autogroups; nothing else needs it)
_CHILD = ("import os, sys\n"
          "try:\n    with open('/proc/self/autogroup', 'w') as group:\n        group.write(sys.argv[2])\n"
          "except OSError:\n    pass\n"
          "hasattr(os, 'nice') and os.nice(int(sys.argv[2]))\n"
          "sys.path.insert(0, sys.argv[1])\nfrom capture.pdf import _child_main\n_child_main()")


@dataclass(frozen=True)
class PageFrame:
    """What each printed page carries besides the document: a header line and a footer line (plain text).

    ``page_label`` may hold ``{page}`` and ``{pages}`` (e.g. "Side {page} af {pages}").
    """

    header: str = ""
    footer: str = ""
    page_label: str = "Page {page} of {pages}"


class PdfRenderFailed(CaptureFailed):
    """Chromium could not print the document (not started, crashed or too slow)."""


def html_to_pdf(html: str, options: CaptureOptions, frame: PageFrame | None = None, *,
                timeout_seconds: float = 60.0) -> bytes:
    """The PDF (A4, backgrounds printed) of ``html``; raises PdfRenderFailed on any failure or timeout.

    Blocking; safe to call from any thread, with or without a running event loop.
    """
    return html_to_pdfs([(html, frame or PageFrame())], options, timeout_seconds=timeout_seconds)[0]


def html_to_pdfs(documents: Sequence[tuple[str, PageFrame]], options: CaptureOptions, *,
                 timeout_seconds: float) -> list[bytes]:
    """The PDFs of several documents, printed one after another by one Chromium, in their order.

    Starting the child, its driver and Chromium costs more processor time than printing a report, so a
    case package prints its reports in one go. All or nothing: PdfRenderFailed if any fails, or if all
    together take longer than ``timeout_seconds``.
    """
    # one JSON line, then the documents as they are: a report's HTML is megabytes of images, and encoding
    # it as a JSON string would hold the interpreter (and the web pages it serves) for tens of ms
    bodies = [html.encode("utf-8") for html, _ in documents]
    head = {"chromium_path": options.chromium_path,
            "documents": [{"frame": asdict(frame), "size": len(body)} for (_, frame), body in zip(documents, bodies)]}
    job = b"\n".join([json.dumps(head).encode("utf-8"), *bodies])
    # a session of its own: a timeout kills all it started, and its autogroup's priority is its own (_CHILD)
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, _PACKAGE_ROOT, str(PRINT_NICENESS)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(job, timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise PdfRenderFailed(f"printing the report took longer than {timeout_seconds:g} s") from None
    except BaseException:
        _kill_group(proc)
        raise
    pdfs = _split(out, len(documents)) if proc.returncode == 0 else None
    if pdfs is None:
        why = err.decode("utf-8", errors="replace").strip().splitlines()
        raise PdfRenderFailed(why[-1] if why else f"the printer exited with status {proc.returncode}")
    return pdfs


def _split(out: bytes, count: int) -> list[bytes] | None:
    """The child's answer (a JSON line of sizes, then the PDFs) as PDFs; None if it is not that."""
    head, _, rest = out.partition(b"\n")
    try:
        sizes = json.loads(head)["sizes"]
    except (ValueError, KeyError, TypeError):
        return None
    if len(sizes) != count or sum(sizes) != len(rest):
        return None
    offsets = [sum(sizes[:i]) for i in range(count)]
    pdfs = [rest[at:at + size] for at, size in zip(offsets, sizes)]
    return pdfs if all(pdf.startswith(b"%PDF-") for pdf in pdfs) else None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """End the child and everything it started (Playwright's driver, Chromium and its helpers)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def _child_main() -> None:
    """The child process: read the documents from stdin, write their PDFs to stdout, one error line to stderr.

    Its priority is lowered before it starts (``_CHILD``; Chromium inherits it): a report printed in the
    background must not slow the pages people are waiting for on a small server (issue 11,
    benchmarks/responsiveness.py).
    """
    head, _, rest = sys.stdin.buffer.read().partition(b"\n")
    job = json.loads(head)
    documents, at = [], 0
    for doc in job["documents"]:
        documents.append((rest[at:at + doc["size"]].decode("utf-8"), PageFrame(**doc["frame"])))
        at += doc["size"] + 1  # the newline between two documents
    try:
        pdfs = asyncio.run(_print(documents, job["chromium_path"]))
    except Exception as exc:  # noqa: BLE001 - Playwright's errors vary; the parent needs one line
        print(f"Chromium could not print the report: {type(exc).__name__}: {str(exc).splitlines()[0]}",
              file=sys.stderr)
        sys.exit(3)
    sys.stdout.buffer.write(json.dumps({"sizes": [len(pdf) for pdf in pdfs]}).encode("utf-8") + b"\n")
    for pdf in pdfs:
        sys.stdout.buffer.write(pdf)
    sys.stdout.buffer.flush()


def _lower_our_descendants() -> None:
    """Give Chromium this process's low priority (``browser.lower_descendants``). Measured
    (benchmarks/responsiveness.py): the browser otherwise competes with the web pages at full weight."""
    browser_mod.lower_descendants(os.getpriority(os.PRIO_PROCESS, 0))


async def _print(documents: list[tuple[str, PageFrame]], chromium_path: str | None) -> list[bytes]:
    async with async_playwright() as pw:
        executable = browser_mod.find_chromium(chromium_path, pw.chromium.executable_path)
        browser = await pw.chromium.launch(executable_path=executable, headless=True,
                                           args=list(browser_mod.LAUNCH_ARGS), proxy=DEAD_PROXY)
        _lower_our_descendants()
        try:
            pdfs = []
            for html, frame in documents:  # each in a fresh context: nothing of one document reaches the next
                context = await browser.new_context(java_script_enabled=False, offline=True,
                                                    service_workers="block", accept_downloads=False)
                await context.route("**/*", lambda route: route.abort("blockedbyclient"))
                page = await context.new_page()
                _lower_our_descendants()  # a renderer started for this page
                await page.set_content(html, wait_until="load")
                pdfs.append(await page.pdf(format="A4", print_background=True, prefer_css_page_size=False,
                                           display_header_footer=True, header_template=_header(frame),
                                           footer_template=_footer(frame),
                                           margin={"top": "20mm", "bottom": "18mm", "left": "16mm", "right": "16mm"}))
                await context.close()
            return pdfs
        finally:
            await browser.close()


_BAND = ("<div style=\"font-family:'Noto Sans','DejaVu Sans',sans-serif;font-size:7.5pt;color:#444;"
         "font-variant-ligatures:none;width:100%;margin:0 16mm;display:flex;"
         "justify-content:space-between;gap:6mm\">{left}{right}</div>")


def _header(frame: PageFrame) -> str:
    return _BAND.format(left=f"<span>{html_mod.escape(frame.header)}</span>", right="")


def _footer(frame: PageFrame) -> str:
    label = html_mod.escape(frame.page_label).replace("{page}", '<span class="pageNumber"></span>') \
        .replace("{pages}", '<span class="totalPages"></span>')
    return _BAND.format(left=f"<span>{html_mod.escape(frame.footer)}</span>",
                        right=f'<span style="white-space:nowrap">{label}</span>')
