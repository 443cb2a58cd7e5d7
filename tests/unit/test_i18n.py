"""The Danish catalogue is complete and its compiled .mo matches the .po that is committed."""
import sys
from pathlib import Path

from babel.messages.pofile import read_po
from tests.support.database import new_runtime

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import i18n  # noqa: E402

PO = ROOT / "webui" / "translations" / "da" / "LC_MESSAGES" / "messages.po"


def test_every_message_in_the_code_has_a_danish_translation():
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="da")
    translated = {m.id for m in catalog if m.id and m.string}
    in_code = {m.id for m in i18n.extract() if m.id}
    assert sorted(in_code - translated) == [], "run scripts/i18n.py update and translate"


def test_the_committed_mo_file_is_compiled_from_the_committed_po_file():
    assert PO.with_suffix(".mo").read_bytes() == i18n.compiled(PO), "run scripts/i18n.py compile"


def test_pages_are_danish_by_default_and_english_on_request(tmp_path):
    from tracker.settings import Settings
    from webui.app import create_app

    rt = new_runtime(Settings(_env_file=None, data_dir=tmp_path))
    try:
        client = create_app(runtime=rt).test_client()
        page = client.get("/login").get_data(as_text=True)
        assert "Log ind i Værn" in page and '<html lang="da">' in page
        page = client.get("/login?lang=en").get_data(as_text=True)
        assert "Log in to Værn" in page and '<html lang="en">' in page
    finally:
        rt.close()
