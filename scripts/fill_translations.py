"""Fill missing translations of one catalogue from Python dict files: fill_translations.py da dict.py [more.py ...]

Each file holds a dict named after the language (DA = {...}); a plural entry's key is the (singular,
plural) msgid pair and its value the (singular, plural) translation.
"""
import runpy
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
lang, sources = sys.argv[1], sys.argv[2:]
table = {}
for source in sources:
    table.update(runpy.run_path(source)["DA" if lang == "da" else lang.upper()])
po = ROOT / "webui" / "translations" / lang / "LC_MESSAGES" / "messages.po"
with po.open("rb") as fh:
    catalog = read_po(fh, locale=lang)
for message in catalog:
    key = tuple(message.id) if isinstance(message.id, (tuple, list)) else message.id
    filled = all(message.string) if isinstance(message.string, (tuple, list)) else bool(message.string)
    if key and not filled and key in table:
        message.string = tuple(table[key]) if isinstance(key, tuple) else table[key]
with po.open("wb") as fh:
    write_po(fh, catalog, width=100)
missing = [m.id for m in catalog if m.id and not (all(m.string) if isinstance(m.string, (tuple, list)) else m.string)]
print("missing:", missing)
