"""Fill missing translations of one catalogue from a Python dict file: fill_translations.py da dict.py"""
import runpy
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
lang, source = sys.argv[1], sys.argv[2]
table = runpy.run_path(source)["DA" if lang == "da" else lang.upper()]
po = ROOT / "webui" / "translations" / lang / "LC_MESSAGES" / "messages.po"
with po.open("rb") as fh:
    catalog = read_po(fh, locale=lang)
for message in catalog:
    if message.id and not message.string and message.id in table:
        message.string = table[message.id]
with po.open("wb") as fh:
    write_po(fh, catalog, width=100)
missing = [m.id for m in catalog if m.id and not m.string]
print("missing:", missing)
