"""Evidence and case reports (PDF, Danish): real captures, a local TSA, real Chromium printing, pypdf reading.

What a police investigator relies on is asserted on the printed text: the fingerprint, every file's SHA-256,
both time zones, the TSA's time, the chain of custody, what the evidence does not prove, and commands that
really verify the files. The printer must fetch nothing, and captured text must stay text.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shlex
import subprocess
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pypdfium2 as pdfium
import pytest
from PIL import Image
from pypdf import PdfReader

from capture.browser import autogroup_nice, parse_autogroup
from capture.bundle import Artifact as BundleArtifact
from capture.bundle import EvidenceBundle
from capture.judge import COVER_UNMEASURED
from capture.options import CaptureOptions
from capture.pdf import PRINT_NICENESS, PageFrame, PdfRenderFailed, html_to_pdf, html_to_pdfs
from storage.models import AuditEvent, Case, Evidence, EvidenceState, Role, User
from tests.support.fixture_site import NAMED_COLOURS, FixtureSite
from tests.support.environment import CHROMIUM
from tests.support.factories import make_case, make_done_evidence, make_unit, make_user, png_bytes
from tests.support.tsa import LocalTSA
from tracker.oversight import audit
from tracker.cases.register import Report, open_case
from tracker.cases.evidence import run_capture_job
from tracker.oversight.history import CUSTODY_ACTIONS
from tracker.packaging.reports import case_report_pdf, evidence_report_html, evidence_report_pdf

CPH = ZoneInfo("Europe/Copenhagen")
A4_POINTS = (595.3, 841.9)


# -- helpers --------------------------------------------------------------------------------------
class CountingServer:
    """A tiny HTTP server on 127.0.0.1 that records every request; the printer must never reach it."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(png_bytes())

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def counting_server():
    server = CountingServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def site():
    with FixtureSite() as s:
        yield s


@pytest.fixture
def tsa(tmp_path):
    with LocalTSA(tmp_path) as t:
        yield t


def pdf_text(pdf: bytes) -> str:
    """All pages' text, runs of whitespace collapsed to one space."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def squeezed(text: str) -> str:
    """The text without any whitespace: a hash wrapped over two lines is found whole."""
    return re.sub(r"\s+", "", text)


def danish(dt: datetime) -> tuple[str, str]:
    """(Danish wall-clock with seconds, zone name) as the report prints them."""
    local = dt.astimezone(CPH)
    return local.strftime("%d.%m.%Y kl. %H.%M.%S"), local.tzname()


def parse_utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def colour_pixels(pdf: bytes, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    """Pixels of ``rgb`` on all rendered pages (every 3rd pixel): proof an image was really embedded."""
    doc = pdfium.PdfDocument(pdf)
    total = 0
    try:
        for i in range(len(doc)):
            img = doc[i].render(scale=0.6).to_pil().convert("RGB")
            px = img.load()
            w, h = img.size
            total += sum(1 for y in range(0, h, 3) for x in range(0, w, 3)
                         if all(abs(a - b) <= tolerance for a, b in zip(px[x, y], rgb)))
    finally:
        doc.close()
    return total


def one_case(rt, url: str) -> tuple[int, int, int]:
    """A fresh unit, employee and leader, and a case for ``url``: (case id, evidence id, leader id)."""
    with rt.transaction() as s:
        unit = make_unit(s)
        employee = make_user(s, Role.employee, unit, name="Søren Sørensen")
        leader = make_user(s, Role.leader, unit, name="Lene Leder")
        case = make_case(s, employee, url=url)
        return case.id, case.evidence[0].id, leader.id


def hostile_bundle(server: CountingServer) -> EvidenceBundle:
    """A capture whose title, post text and author hold HTML that would fetch from ``server`` if it were live."""
    img = f'<img src="{server.url("/leak.png")}">'
    arts = [BundleArtifact("screenshot_viewport.png", "screenshot_viewport", "image/png", png_bytes(300, 200)),
            BundleArtifact("text.txt", "text", "text/plain; charset=utf-8", b"tekst")]
    manifest = {
        "schema": "vaern.manifest/1", "kind": "url", "title": f"Overskrift {img}<script>alert(1)</script>",
        "requested_url": server.url("/opslag"), "final_url": server.url("/opslag"),
        "post": {"id": "1", "author_handle": f'<b>ond</b><link rel="stylesheet" href="{server.url("/x.css")}">',
                 "author_profile_url": None,
                 "text_excerpt": f'Hej {img} <style>@import url("{server.url("/i.css")}")</style><script>x()</script>'},
        "started_at_utc": "2026-07-01T10:00:00.000001Z", "ended_at_utc": "2026-07-01T10:00:05.000000Z",
    }
    return EvidenceBundle.seal("ok", arts, manifest)


def test_an_ok_capture_whose_cover_was_not_measured_is_not_called_uncovered(make_runtime):
    rt = make_runtime()
    case_id, _, leader_id = one_case(rt, "https://example.org/opslag/1")
    arts = [BundleArtifact("screenshot_viewport.png", "screenshot_viewport", "image/png", png_bytes(300, 200))]
    manifest = {"schema": "vaern.manifest/1", "kind": "url", "requested_url": "https://example.org/opslag/1",
                "final_url": "https://example.org/opslag/1", "notes": [COVER_UNMEASURED]}
    ev_id = make_done_evidence(rt, case_id, leader_id, bundle=EvidenceBundle.seal("ok", arts, manifest))
    with rt.Session() as s:
        html = evidence_report_html(rt, s, s.get(Evidence, ev_id))
    assert "uden noget der dækkede den" not in html
    assert "Om noget dækkede en del af siden, kunne Værn ikke måle" in html


# -- the printer -----------------------------------------------------------------------------------
@pytest.mark.browser
def test_the_printer_fetches_nothing_and_runs_no_script_even_for_hostile_html(counting_server):
    s = counting_server
    html = (f'<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="{s.url("/a.css")}">'
            f'<style>@import url("{s.url("/b.css")}"); body {{ background: url("{s.url("/bg.png")}") }}'
            f'@font-face {{ font-family: x; src: url("{s.url("/f.woff")}") }}</style></head><body>'
            f'<h1 style="font-family:x">Rapport</h1><img src="{s.url("/c.png")}"><iframe src="{s.url("/d")}"></iframe>'
            f'<object data="{s.url("/e")}"></object><link rel="prefetch" href="{s.url("/g")}">'
            f'<script>fetch("{s.url("/h")}"); document.write("SCRIPT-RAN")</script>'
            f'<img src="data:image/png;base64,iVBORw0KGgo="></body></html>')

    pdf = html_to_pdf(html, CaptureOptions(chromium_path=CHROMIUM),
                      PageFrame(header="Værn · Sag V-2026-00001", footer="fod", page_label="Side {page} af {pages}"))

    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf)
    assert "Rapport" in text and "Side 1 af 1" in text and "Værn · Sag V-2026-00001" in text
    assert "SCRIPT-RAN" not in text
    assert s.hits == []


@pytest.mark.browser
@pytest.mark.timeout(60)  # a watchdog against a print that does not give up, not a measurement
@pytest.mark.parametrize("timeout", [0.05, 0.8])  # before the driver is up; while Chromium starts
def test_printing_that_cannot_finish_in_time_fails_at_once_with_a_clear_error(timeout):
    with pytest.raises(PdfRenderFailed, match="longer than"):
        html_to_pdf("<p>x</p>", CaptureOptions(chromium_path=CHROMIUM), timeout_seconds=timeout)


@pytest.mark.browser
def test_several_documents_print_with_one_chromium_each_with_its_own_frame_in_their_order():
    docs = [(f"<h1>Dokument {n}</h1><p>{'æøå ' * n}</p>", PageFrame(header=f"Hoved {n}", footer=f"Fod {n}"))
            for n in (1, 2, 3)]
    pdfs = html_to_pdfs(docs, CaptureOptions(chromium_path=CHROMIUM), timeout_seconds=120)
    assert len(pdfs) == 3
    for n, pdf in enumerate(pdfs, 1):
        text = pdf_text(pdf)
        assert f"Dokument {n}" in text and f"Hoved {n}" in text and f"Fod {n}" in text
        assert not {f"Dokument {m}" for m in (1, 2, 3) if m != n} & set(re.findall(r"Dokument \d", text))


@pytest.mark.browser
def _proc_stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command: state, ppid, pgrp, session, … nice is [16] (proc(5))."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _print_while(watch, done: threading.Event, html: str) -> None:
    """Print ``html`` while ``watch`` runs in a thread; ``done`` tells it to stop once the printer has ended."""
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert html_to_pdf(html, CaptureOptions(chromium_path=CHROMIUM)).startswith(b"%PDF-")
    finally:
        done.set()
        watcher.join()


def test_the_printer_runs_below_the_web_server_in_a_session_and_scheduler_group_of_its_own():
    """nice counts only within a scheduler autogroup (Linux: one per session): the printer's own group is
    lowered too, or it would compete with the web pages at full weight (issue 11, benchmarks/responsiveness.py)."""
    seen: list[tuple[int, int, str]] = []  # (nice, session, autogroup line) of our child, the last one read
    done = threading.Event()

    child_stat = _proc_stat

    def our_children() -> set[str]:
        return {p.name for p in Path("/proc").iterdir()
                if p.name.isdigit() and (child_stat(p.name) or [0, -1])[1] == str(os.getpid())}

    earlier = our_children()  # in a whole run the test process has other children (the e2e browser's driver)

    def watch() -> None:  # follows the child until it ends: the last reading is after it lowered itself
        while not done.is_set():
            for pid in (p.name for p in Path("/proc").iterdir() if p.name.isdigit() and p.name not in earlier):
                fields = child_stat(pid)
                while fields and int(fields[1]) == os.getpid():
                    try:
                        group = (Path("/proc") / pid / "autogroup").read_text()
                    except OSError:
                        group = ""
                    seen[:] = [(int(fields[16]), int(fields[3]), group)]
                    time.sleep(0.005)
                    fields = child_stat(pid)
                if seen:
                    return
            time.sleep(0.01)

    _print_while(watch, done, "<p>x</p>")
    [(nice, session, autogroup)] = seen
    assert session != os.getsid(0) and nice == min(19, os.nice(0) + PRINT_NICENESS)
    if autogroup_nice() is not None:  # where the kernel has autogroups
        assert parse_autogroup(autogroup) == PRINT_NICENESS
        assert autogroup != Path("/proc/self/autogroup").read_text()


def test_printing_with_a_chromium_that_does_not_exist_fails_with_one_clear_line(tmp_path):
    with pytest.raises(PdfRenderFailed, match="is not an executable file"):
        html_to_pdf("<p>x</p>", CaptureOptions(chromium_path=str(tmp_path / "no-chromium")))


# -- the evidence report of a real capture ----------------------------------------------------------
@pytest.mark.browser
def test_a_real_capture_prints_a_danish_report_with_every_hash_both_time_zones_the_tsa_and_its_custody(
        make_runtime, site, tsa, tmp_path):
    rt = make_runtime(tsa_url=tsa.url, tsa_ca_file=tsa.ca_file, capture_allowed_hosts=f"127.0.0.1:{site.port}")
    case_id, ev_id, leader_id = one_case(rt, site.url("/facebook_post.html"))
    assert run_capture_job(rt, ev_id) == "done"
    with rt.transaction() as s:
        case, leader, ev = s.get(Case, case_id), s.get(User, leader_id), s.get(Evidence, ev_id)
        audit.record(s, leader, "case.view", "case", case.ref, case.id)
        post = next(a for a in ev.artifacts if a.name == "screenshot_post.png")
        audit.record(s, leader, "artifact.download", "artifact", post.sha256, case.id, evidence=ev.id, name=post.name)

    with rt.Session() as s:
        ev = s.get(Evidence, ev_id)
        pdf = evidence_report_pdf(rt, s, ev)
        arts = {a.name: a.sha256 for a in ev.artifacts}
        fingerprint, ref, gen_time = ev.fingerprint, ev.case.ref, ev.timestamp_gen_time
        events = list(s.query(AuditEvent).filter(AuditEvent.case_id == case_id).order_by(AuditEvent.id))
        manifest_bytes, tsr = rt.blobs.read(arts["manifest.json"]), rt.blobs.read(arts["manifest.tsr"])

    reader = PdfReader(io.BytesIO(pdf))
    assert all(abs(float(p.mediabox.width) - A4_POINTS[0]) < 1.5 and abs(float(p.mediabox.height) - A4_POINTS[1]) < 1.5
               for p in reader.pages)  # A4 (Chromium rounds to 1/100 inch)
    text, flat = pdf_text(pdf), squeezed(pdf_text(pdf))
    pages = len(reader.pages)
    for heading in ("Bevisrapport", f"Sag {ref}", "Billeder", "Adresse, server og forbindelse", "Filer og SHA-256",
                    "Betroet tidsstempel (RFC 3161)", "Metode", "Hvad beviset viser", "Beviset viser ikke",
                    "Sådan kontrolleres beviset", "Hændelser for beviset", f"Side 1 af {pages}", f"Side {pages} af {pages}"):
        assert heading in text, heading
    assert fingerprint in flat
    assert set(arts) >= {"screenshot_post.png", "screenshot_viewport.png", "traffic.warc.gz", "manifest.json",
                         "manifest.tsr"}
    for name, sha in arts.items():
        assert sha in flat, name
    assert "Sikret efter cookie-dialog" in text and "Hvem der skrev opslaget" in text
    assert "Søren Sørensen" in text

    manifest = json.loads(manifest_bytes)
    started = parse_utc(manifest["started_at_utc"])
    wall, zone = danish(started)
    assert f"{wall} dansk tid ({zone}, UTC+" in text
    assert started.strftime("%Y-%m-%d %H:%M:%S") in text
    tsa_wall, tsa_zone = danish(gen_time)
    assert f"{tsa_wall} dansk tid ({tsa_zone}" in text and gen_time.strftime("%Y-%m-%d %H:%M:%S UTC") in text
    assert "Tokenet er gyldigt" in text and "CN=Test" in text

    custody = [e for e in events if e.action in CUSTODY_ACTIONS]
    assert [e.action for e in custody] == ["case.create", "evidence.request", "evidence.captured"]
    for event in custody:  # the chain of custody of this capture, each event with its hash prefix
        assert event.hash[:16] in flat, event.action
    for event in events:  # views and downloads stay in the audit log, not in the report
        if event.action in ("case.view", "artifact.download"):
            assert event.hash[:16] not in flat, event.action
    assert "Sagen blev oprettet" in text and f"Bevis nr. {ev_id} blev sikret" in text
    assert "Sikring af adressen" in text and "Sag vist" not in text and "Fil hentet" not in text
    assert "(serveren sendte «" in text  # the server's Date header in Danish time, next to what it sent
    assert "verdict:" not in text and "fingerprint:" not in text and "worker:" not in text  # no raw keys
    assert "passer ikke" not in text

    assert colour_pixels(pdf, NAMED_COLOURS["blue"]) > 2000  # the post's picture is in the printed screenshots

    # The commands the report prints really verify the files, in the export package's layout.
    folder = tmp_path / "pkg" / "evidence" / str(ev_id)
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_bytes(manifest_bytes)
    (folder / "manifest.tsr").write_bytes(tsr)
    (tmp_path / "pkg" / "tsa").mkdir()
    (tmp_path / "pkg" / "tsa" / "tsa-ca.pem").write_bytes(Path(tsa.ca_file).read_bytes())
    command = re.search(r"openssl ts -verify -data \S+ -in \S+ -CAfile \S+", text.replace(" \\ ", " ")).group(0)
    assert command == (f"openssl ts -verify -data evidence/{ev_id}/manifest.json -in evidence/{ev_id}/manifest.tsr "
                       f"-CAfile tsa/tsa-ca.pem")
    result = subprocess.run(shlex.split(command), cwd=tmp_path / "pkg", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr
    assert f"sha256sum evidence/{ev_id}/manifest.json" in text
    assert hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest() == fingerprint
    assert "sha256sum -c SHA256SUMS" in text


@pytest.mark.browser
def test_the_case_report_of_one_captured_post_fits_in_six_pages_however_often_it_was_viewed(
        make_runtime, site, tsa):
    rt = make_runtime(tsa_url=tsa.url, tsa_ca_file=tsa.ca_file, capture_allowed_hosts=f"127.0.0.1:{site.port}")
    case_id, ev_id, leader_id = one_case(rt, site.url("/facebook_post.html"))
    assert run_capture_job(rt, ev_id) == "done"
    with rt.transaction() as s:  # days of looking at the case: views and downloads, as the pages record them
        case, leader, ev = s.get(Case, case_id), s.get(User, leader_id), s.get(Evidence, ev_id)
        for _ in range(30):
            audit.record(s, leader, "case.view", "case", case.ref, case.id)
            for art in ev.artifacts[:3]:
                audit.record(s, leader, "artifact.view", "artifact", art.sha256, case.id, evidence=ev.id,
                             name=art.name)
        audit.record(s, leader, "report.download", "case", case.ref, case.id, report="case", sha256="ab" * 32,
                     size=1000)
    with rt.Session() as s:
        pdf = case_report_pdf(rt, s, s.get(Case, case_id))
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    text = pdf_text(pdf)
    print(f"case report of one captured post: {pages} pages")
    assert pages <= 6, pages
    assert "Beviskæden" in text and "blev vist" not in text and "Sag vist" not in text
    assert "tidsstemplingstjeneste.Tidspunkterne" not in squeezed(text)


# -- hostile captured content ----------------------------------------------------------------------
def test_captured_html_is_escaped_and_the_report_refers_to_nothing_outside_itself(make_runtime, counting_server):
    rt = make_runtime()
    case_id, _, leader_id = one_case(rt, "https://example.org/opslag/1")
    ev_id = make_done_evidence(rt, case_id, leader_id, bundle=hostile_bundle(counting_server))
    with rt.Session() as s:
        html = evidence_report_html(rt, s, s.get(Evidence, ev_id))

    assert "<script>" not in html and "<b>ond</b>" not in html and "<style>@import" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;ond&lt;/b&gt;" in html
    sources = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', html)
    assert sources and all(src.startswith("data:image/") for src in sources)
    assert html.count("<style") == 1 and "url(" not in html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert counting_server.hits == []


@pytest.mark.browser
def test_printing_hostile_captured_text_fetches_nothing_and_shows_the_markup_as_text(make_runtime, counting_server):
    rt = make_runtime()
    case_id, _, leader_id = one_case(rt, "https://example.org/opslag/1")
    ev_id = make_done_evidence(rt, case_id, leader_id, bundle=hostile_bundle(counting_server))
    with rt.transaction() as s:
        s.get(Case, case_id).description = f'Se <img src="{counting_server.url("/desc.png")}"> her'
    with rt.Session() as s:
        ev_pdf = evidence_report_pdf(rt, s, s.get(Evidence, ev_id))
        case_pdf = case_report_pdf(rt, s, s.get(Case, case_id))

    assert counting_server.hits == []
    for pdf in (ev_pdf, case_pdf):
        text = pdf_text(pdf)
        assert '<img src="http://127.0.0.1:' in text and "<script>alert(1)" in text
    assert "Se <img src=" in pdf_text(case_pdf)


# -- uploads ---------------------------------------------------------------------------------------
def phone_photo() -> bytes:
    """A JPEG like a phone photo of a screen: camera EXIF with a capture time and a GPS position."""
    img = Image.new("RGB", (800, 600), NAMED_COLOURS["orange"])
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Fairphone", "FP5"
    exif[0x0132] = "2026:11:20 21:14:03"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (55.0, 40.0, 30.0), 3: "E", 4: (12.0, 34.0, 56.0)})
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=90)
    return buf.getvalue()


@pytest.mark.browser
def test_an_uploaded_photo_report_shows_the_picture_and_its_exif_and_says_it_proves_only_what_was_handed_in(
        make_runtime):
    rt = make_runtime()
    data = phone_photo()
    with rt.transaction() as s:
        employee = make_user(s, Role.employee, make_unit(s), name="Søren Sørensen")
        case = open_case(s, employee, Report(url=None, episode_at=None, description="Foto af skærmen",
                                             upload_sha256=rt.blobs.put(data), upload_filename="IMG_0042.jpg"))
        ev_id = case.evidence[0].id
    assert run_capture_job(rt, ev_id) == "done"
    with rt.Session() as s:
        ev = s.get(Evidence, ev_id)
        pdf = evidence_report_pdf(rt, s, ev)
        shas = [a.sha256 for a in ev.artifacts]

    text, flat = pdf_text(pdf), squeezed(pdf_text(pdf))
    assert "Uploadet af" in text and "Den uploadede fil" in text and "IMG_0042.jpg" in text
    assert "Fairphone FP5" in text and "GPS-position: findes i filen" in text
    assert "20.11.2026 kl. 21.14.03" in text and "2026:11:20" not in text  # the camera's time, the Danish way
    assert "55.67" not in text and "55,67" not in text  # the position itself stays in the manifest
    assert "En upload viser kun, hvad personen afleverede" in text and "EXIF-oplysninger" in text
    assert "Ikke tidsstemplet" in text  # no TSA configured: said plainly
    assert "tidsstemplingstjeneste. Tidspunkterne" in " ".join(text.split())  # the sentences keep their space
    assert hashlib.sha256(data).hexdigest() in flat and all(sha in flat for sha in shas)
    assert colour_pixels(pdf, NAMED_COLOURS["orange"]) > 2000


# -- the case report -------------------------------------------------------------------------------
@pytest.mark.browser
def test_a_case_report_holds_the_case_facts_deadlines_every_evidence_and_the_whole_chain(runtime):
    rt = runtime
    case_id, first_id, leader_id = one_case(rt, "https://example.org/opslag/1")
    done_id = make_done_evidence(rt, case_id, leader_id)
    with rt.transaction() as s:  # the first attempt was refused, as the capture job records it
        first = s.get(Evidence, first_id)
        first.state, first.error = EvidenceState.refused, "blocked_address: the address is not public"
        audit.record(s, None, "evidence.refused", "evidence", first.id, case_id, reason=first.error)
        audit.record(s, s.get(User, leader_id), "case.view", "case", first.case.ref, case_id)
    with rt.Session() as s:
        case = s.get(Case, case_id)
        pdf = case_report_pdf(rt, s, case, now=datetime.now(timezone.utc))
        ref, unit = case.ref, case.unit.name
        done = s.get(Evidence, done_id)
        fingerprint, shas = done.fingerprint, [a.sha256 for a in done.artifacts]
        hashes = [(e.action, e.hash) for e in s.query(AuditEvent).filter(AuditEvent.case_id == case_id)]

    text, flat = pdf_text(pdf), squeezed(pdf_text(pdf))
    for heading in ("Sagsrapport", f"Sag {ref}", "Sagen", "Frister", "Tjekliste og skridt for fjernelse",
                    "Oversigt over beviser", "Bevis 1 af 2", "Bevis 2 af 2", "Sagens hændelser"):
        assert heading in text, heading
    assert unit in text and "Søren Sørensen" in text and "Grim kommentar om mig" in text
    assert "Politianmeldelse inden 72 timer" in text and "Starttidspunkt ukendt" in text
    assert "Ikke sikret (refused)" in text and "blocked_address: the address is not public" in text
    assert fingerprint in flat and all(sha in flat for sha in shas)
    assert len(hashes) >= 5 and all(h[:16] in flat for e, h in hashes if e in CUSTODY_ACTIONS)
    assert not any(h[:16] in flat for e, h in hashes if e == "case.view")  # views stay in the audit log
    assert "Sag vist" not in text and f"Sikring af bevis nr. {first_id} blev afvist" in text
    assert "Sagen blev oprettet" in text and "reason:" not in text


# -- long pages, damaged stores, thin manifests (HTML only: fast) -----------------------------------
def striped_png(width: int, height: int) -> bytes:
    img = Image.new("RGB", (width, height), (250, 250, 250))
    for top in range(0, height, 400):
        img.paste((top // 400 % 7 * 30, 80, 160), (0, top, width, min(top + 200, height)))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_a_very_tall_page_is_shown_in_six_page_slices_and_the_rest_is_left_to_the_package(make_runtime):
    rt = make_runtime()
    case_id, _, leader_id = one_case(rt, "https://example.org/opslag/1")
    arts = [BundleArtifact("screenshot_full.png", "screenshot_full", "image/png", striped_png(1280, 20_000)),
            BundleArtifact("screenshot_viewport.png", "screenshot_viewport", "image/png", png_bytes(1280, 900))]
    ev_id = make_done_evidence(rt, case_id, leader_id, bundle=EvidenceBundle.seal("truncated", arts, {"kind": "url"}))
    with rt.Session() as s:
        html = evidence_report_html(rt, s, s.get(Evidence, ev_id))

    slices = re.findall(r'<img class="large" src="data:image/png;base64,', html)
    assert len(slices) == 6
    assert "del 6 af 13" in html and "de første 6 af 13 dele" in html
    assert "Siden var højere end Værns grænse" in html


def test_a_missing_blob_is_reported_as_missing_and_a_thin_manifest_prints_no_none(make_runtime):
    rt = make_runtime()
    case_id, _, leader_id = one_case(rt, "https://example.org/opslag/1")
    ev_id = make_done_evidence(rt, case_id, leader_id)
    with rt.Session() as s:
        ev = s.get(Evidence, ev_id)
        mhtml = next(a for a in ev.artifacts if a.name == "page.mhtml")
        rt.blobs.path_for(mhtml.sha256).unlink()
        html = evidence_report_html(rt, s, ev)

    assert "Mindst én fil mangler eller er ændret" in html and "Mangler/ændret" in html
    assert "Kontrolleret ved udskrivning: manifest.json giver dette fingeraftryk" in html
    visible = re.sub(r"<[^>]+>", " ", html.split("<body>", 1)[1])
    assert not re.search(r"\bNone\b", visible)


def test_the_printers_chromium_runs_at_the_printers_low_priority_too():
    """Playwright starts Chromium in a session (an autogroup) of its own at nice 0; the printer lowers it, or the
    browser would compete with the web pages at full weight (measured: case list p95 ×2.7 while a package is built)."""
    last: dict[int, tuple[int, str]] = {}  # pid -> (session, autogroup line) of the printer's Chromium, last reading
    done = threading.Event()

    stat = _proc_stat

    def comm(pid: int) -> str:
        try:
            return (Path("/proc") / str(pid) / "comm").read_text().strip()
        except OSError:
            return ""

    earlier = {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()}  # e.g. the e2e browser

    def watch() -> None:
        while not done.is_set():
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit() or int(entry.name) in earlier:
                    continue
                pid, fields = int(entry.name), stat(int(entry.name))
                # the browser: a session-leading Chromium started by Playwright's driver (not a crash reporter)
                if fields and int(fields[3]) == pid and comm(pid) in ("chromium", "chrome", "headless_shell") \
                        and int(fields[1]) != 1 and comm(int(fields[1])) not in ("chromium", "chrome", "headless_shell"):
                    try:
                        last[pid] = (pid, (entry / "autogroup").read_text())
                    except OSError:
                        pass
            time.sleep(0.01)

    _print_while(watch, done, "<p>x</p>" * 20000)
    assert len(last) == 1, last  # one browser, in a session of its own
    if autogroup_nice() is not None:  # the whole session's group (its renderers too) runs lowered
        [(_, group)] = last.values()
        assert parse_autogroup(group) == PRINT_NICENESS, group
