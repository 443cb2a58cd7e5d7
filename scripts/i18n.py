"""Keep the translation catalogues in step with the code.

    python scripts/i18n.py update   # extract messages, merge into every .po (keeps translations)
    python scripts/i18n.py compile  # .po -> .mo (the .mo files are committed; a test checks they are current)
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "webui" / "translations"
METHODS = [("webui/**.py", "python"), ("webui/templates/**.html", "jinja2"),
           ("tracker/packaging/vocabulary.py", "python")]  # the codes' words, shared by pages and reports
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None}
SOURCES = ("webui", "tracker/packaging/vocabulary.py")


def extract() -> Catalog:
    template = Catalog(project="Værn", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
            ROOT, METHODS, keywords=KEYWORDS, strip_comment_tags=True):
        if filename.startswith(SOURCES):
            template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def po_files() -> list[Path]:
    return sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


def update() -> None:
    template = extract()
    for po in po_files():
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name)
        catalog.update(template, no_fuzzy_matching=True)
        with po.open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False, ignore_obsolete=True)


def compiled(po: Path) -> bytes:
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=po.parent.parent.name)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def compile_all() -> None:
    for po in po_files():
        po.with_suffix(".mo").write_bytes(compiled(po))


if __name__ == "__main__":
    {"update": update, "compile": compile_all}[sys.argv[1]]()
