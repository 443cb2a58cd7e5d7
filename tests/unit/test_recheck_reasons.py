"""Each re-check reason has its Danish (the audit sentences and the police report are Danish), with the same
values; a stored English sentence is translated only when it is one of Værn's own wordings."""
from __future__ import annotations

from string import Formatter

from tracker.workflow.recheck_compare import EARLIER_REASONS_DA, REASONS, REASONS_DA, danish_reason, reason_text


def names(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


def test_every_reason_has_its_danish_with_the_same_values():
    assert REASONS_DA.keys() == REASONS.keys()
    assert {c: names(REASONS_DA[c]) for c in REASONS} == {c: names(en) for c, en in REASONS.items()}
    assert all(names(en) == names(da) for en, da in EARLIER_REASONS_DA.items())


def test_every_sentence_reason_text_stores_reads_back_in_danish():
    values = {"state": "failed", "status": "timed_out", "what": "HTTP 502", "http_status": 404,
              "removal_text": "Indholdet er ikke tilgængeligt", "final_url": "https://x.test/gone",
              "platform": "instagram"}
    for code in REASONS:
        danish = danish_reason(reason_text(code, values), code)
        assert danish == REASONS_DA[code].format_map({k: str(v) for k, v in values.items()}), code


def test_a_value_reason_text_could_not_fill_reads_unknown_in_danish():
    assert danish_reason(reason_text("http_gone", {}), "http_gone") == \
        "serveren svarede HTTP ukendt: opslagets adresse findes ikke længere"


def test_a_text_varn_never_stored_is_not_translated():
    assert danish_reason("the post text is on the page") is None
    assert danish_reason("the post text is on the page", "post_online") is None
    assert danish_reason("the post is online as captured, said someone", "post_online") is None
