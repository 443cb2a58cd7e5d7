"""`vaern processing-record --out FILE.pdf|FILE.md` (issue 16.5) as an operator runs it: a real subprocess, the PDF
printed by the real Chromium and read back with pypdf."""
from __future__ import annotations

from pypdf import PdfReader

from tests.support.cli import said, vaern

HEADINGS = ("a. Dataansvarlig og databeskyttelsesrådgiver", "b. Formål med behandlingen",
            "c. Kategorier af registrerede og af personoplysninger", "d. Kategorier af modtagere",
            "e. Overførsel til tredjelande", "f. Tidsfrister for sletning",
            "g. Tekniske og organisatoriske sikkerhedsforanstaltninger")


def test_the_operator_writes_the_record_as_pdf_and_markdown(tmp_path):
    data = tmp_path / "data"
    settings = {"controller_name": "Testrup Kommune", "tsa_url": "https://tsa.example/tsr", "secure_cookies": "true"}
    pdf_file = tmp_path / "fortegnelse.pdf"
    done = vaern("processing-record", "--out", str(pdf_file), data_dir=data, **settings)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"vaern: record of processing written to {pdf_file} (")
    reader = PdfReader(pdf_file)
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert text.startswith("DATABESKYTTELSESFORORDNINGEN ART. 30, STK. 1 Fortegnelse over behandlingsaktiviteter")
    for heading in HEADINGS:
        assert heading in text, heading
    assert "Dataansvarlig: Testrup Kommune" in text
    assert "VAERN_TSA_URL peger på tsa.example, men VAERN_TSA_CA_FILE er ikke sat" in text  # this process's settings
    assert "Lukkede sager slettes 5 år efter lukning" in text

    md_file = tmp_path / "fortegnelse.md"
    done = vaern("processing-record", "--out", str(md_file), data_dir=data, **settings)
    assert done.returncode == 0, done.stderr
    markdown = md_file.read_text(encoding="utf-8")
    assert all(f"## {h}" in markdown for h in HEADINGS)
    assert "Single sign-on er ikke sat op" in markdown

    refused = vaern("processing-record", "--out", str(tmp_path / "fortegnelse.docx"), data_dir=data)
    assert refused.returncode == 2 and "--out must end in .pdf or .md" in "\n".join(said(refused.stderr))
    assert not (tmp_path / "fortegnelse.docx").exists()
