"""Render a sample case report and evidence report to PDF and each page to PNG, so anyone can look at them.

    .venv/bin/python scripts/render_report_pages.py [OUT_DIR]      (default: ./report-pages)

Builds a throw-away Værn in a temporary folder with the test fixture site and a local time-stamping
authority (needs Chromium and the openssl command), captures a Facebook-like post and a long thread for
real, uploads a screenshot and an e-mail, and prints the reports. Writes case-report.pdf,
evidence-report.pdf and case-report-p01.png ... into OUT_DIR.
"""
from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pypdfium2 as pdfium  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from storage.models import Case, Evidence, Role, User  # noqa: E402
from tests.support.fixture_site import FixtureSite  # noqa: E402
from tests.support.factories import make_settings, make_unit, make_user  # noqa: E402
from tests.support.tsa import LocalTSA  # noqa: E402
from tracker.oversight import audit  # noqa: E402
from tracker.cases.register import Report, add_evidence, open_case  # noqa: E402
from tracker.cases.evidence import run_capture_job  # noqa: E402
from tracker.packaging.reports import case_report_pdf, evidence_report_pdf  # noqa: E402
from tracker.adapters.runtime import Runtime  # noqa: E402

EML = ("From: Anonym Borger <anon123@example.net>\r\nTo: Soren <soren@kommune.dk>\r\n"
       "Subject: Vi ved hvor du bor\r\nDate: Fri, 20 Nov 2026 21:14:03 +0100\r\n"
       "Message-ID: <1234@example.net>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
       "Du skal passe på, sagsbehandler. <script>alert(1)</script>\r\n").encode()


def phone_photo() -> bytes:
    """A portrait JPEG like a phone photo of a screen, with camera EXIF, a capture time and a GPS position."""
    img = Image.new("RGB", (1200, 1600), (245, 245, 240))
    ImageDraw.Draw(img).rectangle((100, 300, 1100, 900), fill=(30, 90, 200))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Fairphone", "FP5", "2026:11:20 21:14:03"
    exif.get_ifd(0x8825).update({1: "N", 2: (55.0, 40.0, 30.0), 3: "E", 4: (12.0, 34.0, 56.0)})
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=90)
    return buf.getvalue()


def build_sample(rt: Runtime, site: FixtureSite) -> tuple[int, int]:
    """A case with two real captures and two uploads; returns (case id, id of the first capture)."""
    shot_sha, mail_sha = rt.blobs.put(phone_photo()), rt.blobs.put(EML)
    with rt.transaction() as s:
        unit = make_unit(s, "Jobcenter Syd")
        employee = make_user(s, Role.employee, unit, name="Søren Sørensen")
        leader = make_user(s, Role.leader, unit, name="Lene Leder")
        case = open_case(s, employee, Report(url=site.url("/facebook_post.html"), episode_at=None,
                                             description="Opslaget hænger mig ud med navn og arbejdsplads."))
        add_evidence(s, employee, case, url=site.url("/tall?blocks=12"))
        add_evidence(s, employee, case, upload_sha256=shot_sha, upload_filename="IMG_0042.jpg")
        add_evidence(s, employee, case, upload_sha256=mail_sha, upload_filename="trussel.eml")
        ids = [ev.id for ev in case.evidence]
        case_id, leader_id = case.id, leader.id
    for ev_id in ids:
        run_capture_job(rt, ev_id)
    with rt.transaction() as s:
        case, leader, first = s.get(Case, case_id), s.get(User, leader_id), s.get(Evidence, ids[0])
        audit.record(s, leader, "case.view", "case", case.ref, case.id)
        art = next(a for a in first.artifacts if a.name == "screenshot_post.png")
        audit.record(s, leader, "artifact.download", "artifact", art.sha256, case.id, evidence=first.id, name=art.name)
    return case_id, ids[0]


def pages_to_png(pdf: bytes, out: Path, stem: str, scale: float = 1.4) -> list[Path]:
    for old in out.glob(f"{stem}-p*.png"):
        old.unlink()
    doc = pdfium.PdfDocument(pdf)
    paths = []
    for i in range(len(doc)):
        path = out / f"{stem}-p{i + 1:02d}.png"
        doc[i].render(scale=scale).to_pil().save(path)
        paths.append(path)
    doc.close()
    return paths


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "report-pages").resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, FixtureSite() as site, LocalTSA(tmp) as tsa:
        rt = Runtime.from_settings(make_settings(Path(tmp) / "data", tsa_url=tsa.url, tsa_ca_file=tsa.ca_file,
                                                 capture_allowed_hosts=f"127.0.0.1:{site.port}"))
        try:
            case_id, first = build_sample(rt, site)
            with rt.Session() as s:
                case_pdf = case_report_pdf(rt, s, s.get(Case, case_id))
                ev_pdf = evidence_report_pdf(rt, s, s.get(Evidence, first))
        finally:
            rt.close()
    for name, pdf in (("case-report", case_pdf), ("evidence-report", ev_pdf)):
        (out / f"{name}.pdf").write_bytes(pdf)
        pngs = pages_to_png(pdf, out, name)
        print(f"{name}.pdf: {len(pdf):,} bytes, {len(pngs)} pages -> {out}")


if __name__ == "__main__":
    main()
