"""The offender access request's redaction looks up only the offenders named in the excerpts, and redacts exactly
as a redactor given the whole register did (the reference below is that redactor, kept here, not in production),
on SQLite and PostgreSQL; the cases that mention the person are found where a word begins."""
from __future__ import annotations

import random
import re

from sqlalchemy import select, text

from storage.models import Offender
from storage.types import utcnow
from tests.support.factories import make_case, make_unit, make_user
from tracker.privacy import offender_access
from tracker.privacy.offender_access import MIN_NAME_PART, Redactor, employee_names, redactor_for
from tracker.oversight.search import case_ids_mentioning

SPECIAL = [  # (handle, display name): forms a lookup could miss
    ("aerlige_aase", "Ærlige Åse"), ("oestergaard", "ØSTERGAARD Bødker"), ("bo.li", "Bo Li"), ("a.b", "x-y-z"),
    ("jens_h", "Jens H."), ("plusser", "+++"), ("lang_gruppe", "Borgerne i Vesthimmerland mod kommunen nu"),
    ("udraab", "!!!!!!!!!!!!!!!!Råb"), ("marker", "Anden Person"), ("tlf", "telefon"), ("mette_fan", "Mette"),
    ("kort", "Ib"), ("citat", 'Han med "citat"'), ("procent", "50% af alt"), ("ss_navn", "Strauß"),
    ("hans_troll_2", "Hans Troll den Anden"), ("dobbelt", "Vred Borger 7"), ("tal", "1234"),
]
OWN = ("hans_troll", "Hans Troll")
WORDS = "kommunen borger opslag skrev om og i at det er en trussel mod hende ærlig åbenlyst løgn".split()


class FullRegister(Redactor):
    """The redactor as it was: every name of the register compiled and applied to every text (the person's own
    terms hidden and the patterns marked as before: ``prepare``, unchanged)."""

    def __init__(self, keep: list[str], names: list[tuple[str, str]]):
        super().__init__(keep, names)
        self.patterns = [(re.compile(r"(?<!\w)" + re.escape(t) + r"(?!\w)", re.I), kind) for t, kind in self.names]

    def __call__(self, value: str) -> str:
        value, kept = self.prepare(value)
        for pattern, kind in self.patterns:
            value = pattern.sub(lambda m, k=kind: self._mark(k), value)
        return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], value)


def full_register(session, own: list[Offender], query: str) -> FullRegister:
    keep = offender_access._keep_terms(own, query)
    folded_keep = {k.casefold() for k in keep if k}
    names = employee_names(session, folded_keep)
    for oid, handle, display in session.execute(select(Offender.id, Offender.handle, Offender.display_name)
                                                .where(Offender.erased_at.is_(None)).order_by(Offender.id)):
        if oid not in {o.id for o in own}:
            names += [(t, "other_offender") for t in (handle, display) if t and len(t) >= MIN_NAME_PART
                      and t.casefold() not in folded_keep]
    return FullRegister(keep, names)


def _shout(rng: random.Random, name: str) -> str:
    return rng.choice((name, name.upper(), name.lower(), name.title(), name.swapcase()))


def _texts(rng: random.Random, names: list[str], n: int) -> list[str]:
    out = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(5, 40))]
        for _ in range(rng.randint(1, 5)):
            picked = _shout(rng, rng.choice(names))
            if rng.random() < 0.2:
                picked = rng.choice(("@", "x", "(", "")) + picked + rng.choice(("s", ")", ".", "", "!"))
            words.insert(rng.randrange(len(words) + 1), picked)
        if rng.random() < 0.3:
            words.append("ring 12 34 56 78 eller skriv til mette.hansen@kommune.dk, se https://x.com/hans_troll")
        out.append(rng.choice((" ", "  ", ", ", " - ")).join(words))
    return out


def test_the_redaction_is_the_full_registers_while_only_the_named_offenders_are_looked_up(runtime):
    rng = random.Random(16)
    with runtime.transaction() as s:
        unit = make_unit(s)
        for name in ("Mette Hansen", "Jens Østergaard", "Vred Borger"):  # an employee named as an offender too
            make_user(s, unit=unit, name=name)
        s.add(Offender(platform="facebook", handle=OWN[0], display_name=OWN[1], profile_url="https://x.com/hans_troll",
                       note="Skrev til Mette Hansen og Ærlige Åse"))
        for handle, name in SPECIAL:
            s.add(Offender(platform="facebook", handle=handle, display_name=name, note=""))
        for i in range(400):
            s.add(Offender(platform="x", handle=f"krænker_{i:04d}", display_name=f"Vred Borger {i}", note=""))
        s.add(Offender(platform="x", handle="slettet-1", display_name="Slettet Person", note="",
                       erased_at=utcnow()))
    # the special offenders by display name only (their handles would find them anyway), others by handle or name
    names = [name for _handle, name in SPECIAL] + [f"krænker_{i:04d}" for i in range(1, 400, 37)] + [
        f"Vred Borger {i}" for i in range(2, 400, 41)] + ["Mette Hansen", "Jens", "Slettet Person", "@hans_troll",
                                                         "Hans Troll", "meiss", "STRAUSS", "1234 5678"]
    with runtime.transaction() as s:
        if runtime.engine.dialect.name == "postgresql":
            s.execute(text("ANALYZE"))
        own = list(s.execute(select(Offender).where(Offender.handle == OWN[0])).scalars())
        for query in ("hans_troll", "@Hans_Troll", "Hans Troll"):
            texts = _texts(rng, names, 60) + [own[0].note]
            new, old = redactor_for(s, own, query, texts), full_register(s, own, query)
            assert [new(t) for t in texts] == [old(t) for t in texts], query
            assert new.counts == old.counts and new.counts["other_offender"] > 60, new.counts
            # and it compiled only the names that stood in the texts, not the 400 and more of the register
            assert len(new._compiled) < len(old.patterns) / 4, (len(new._compiled), len(old.patterns))


def test_the_cases_that_mention_the_person_are_found_where_a_word_begins(runtime):
    bodies = {"mentioned": "Opslag af Hans_Troll i går", "shouted": "HANS_TROLL skrev igen",
              "in an address": "se https://x.com/hans_troll/posts/1", "after a sign": "(@hans_troll) delte",
              "inside a word": "superhans_troll skrev", "only one word": "Hans skrev, troll svarede",
              "æøå": "Ærlige Åse var der"}
    with runtime.transaction() as s:
        emp = make_user(s, unit=make_unit(s))
        ids = {k: make_case(s, emp, description=body).id for k, body in bodies.items()}
    with runtime.transaction() as s:
        found = set(case_ids_mentioning(s, "hans_troll"))
        assert found == {ids[k] for k in ("mentioned", "shouted", "in an address", "after a sign")}
        assert set(case_ids_mentioning(s, "@Hans_Troll")) == {ids["after a sign"]}
        assert set(case_ids_mentioning(s, "ærlige åse")) == {ids["æøå"]}
        assert set(case_ids_mentioning(s, "åse")) == {ids["æøå"]} and case_ids_mentioning(s, "rlige") == []
