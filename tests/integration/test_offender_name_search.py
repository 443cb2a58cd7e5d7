"""HR finds an offender by any part of the handle or name, through the trigram index, exactly as by reading
every offender (case folded, æ, ø, å too), on SQLite and PostgreSQL; the index follows renames and erasure."""
from __future__ import annotations

from sqlalchemy import delete, select, text

from storage.models import Offender
from tracker.oversight import search

NAMES = [("aerlige_aase", "Ærlige Åse"), ("oestergaard", "ØSTERGAARD Bødker"), ("vred_borger_7", "Vred Borger 7"),
         ("vred_borger_70", "Vred Borger 70"), ("pct_50%_off", "Procent_Under"), ('citat"mand', 'Han med "citat"'),
         ("ab", None), ("kun_handle", None)]
NEEDLES = ["ærlige", "ÆRLIGE ÅSE", "åse", "øster", "BØDKER", "borger 7", "vred_borger_7", "50%", "t_u", "%", "_",
           '"citat"', 'citat"m', "ab", "a", "kun_", "ingen sådan", "  åse", "rlige å"]


def _by_reading_everyone(s, needle: str) -> list[int]:
    folded = needle.casefold()
    return sorted(o.id for o in s.execute(select(Offender)).scalars()
                  if any(folded in (v or "").casefold() for v in (o.handle, o.display_name)))


def _found(s, needle: str) -> list[int]:
    ids = search.offender_ids_containing(s, needle)
    return sorted(ids if isinstance(ids, list) else s.execute(ids).scalars())


def test_offender_parts_of_names_are_found_as_by_reading_every_offender(runtime):
    with runtime.transaction() as s:
        for handle, name in NAMES:
            s.add(Offender(platform="facebook", handle=handle, display_name=name, note=""))
    with runtime.transaction() as s:
        if runtime.engine.dialect.name == "postgresql":  # the planner uses the indexes once it knows the table
            s.execute(text("ANALYZE offenders"))
        for needle in NEEDLES:
            assert _found(s, needle) == _by_reading_everyone(s, needle), needle
        assert len(_found(s, "vred_borger_7")) == 2 and len(_found(s, "%")) == 1
        # a rename and an erasure (retention blanks the name) and a deletion: the index follows each
        renamed = s.execute(select(Offender).where(Offender.handle == "oestergaard")).scalar_one()
        renamed.display_name = "Nyt Navn Ærø"
        s.execute(select(Offender).where(Offender.handle == "aerlige_aase")).scalar_one().display_name = None
        s.flush()
        s.execute(delete(Offender).where(Offender.handle == "kun_handle"))
        for needle in ("bødker", "ærø", "nyt navn", "åse", "ærlige", "kun_handle"):
            assert _found(s, needle) == _by_reading_everyone(s, needle), needle
        assert _found(s, "bødker") == [] and _found(s, "ærø") == [renamed.id] and _found(s, "kun_handle") == []


def test_sqlite_reads_only_the_offenders_the_trigram_index_names(runtime):
    """The query plan: offenders by id from the trigram index, not a scan of the register."""
    if runtime.engine.dialect.name != "sqlite":
        with runtime.Session() as s:  # PostgreSQL: the indexes migration 0016 made with pg_trgm
            names = set(s.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'offenders' "
                                       "AND schemaname = current_schema()")).scalars())
        assert set(search.PG_OFFENDER_INDEXES) <= names
        return
    with runtime.Session() as s:
        fts = f"SELECT rowid FROM {search.OFFENDER_FTS} WHERE {search.OFFENDER_FTS} MATCH '\"borger\"'"
        plan = " | ".join(str(r[-1]) for r in s.execute(text(
            f"EXPLAIN QUERY PLAN SELECT id, handle, display_name FROM offenders WHERE id IN ({fts})")))
    assert f"{search.OFFENDER_FTS} VIRTUAL TABLE" in plan and "SCAN offenders" not in plan, plan
