"""Dates and file sizes read in the page's language: Danish ``26.11.2026 kl. 14.05`` and ``1,2 MB``, English
``26.11.2026 at 14:05`` and ``1.2 MB`` (1 kB = 1000 bytes); evidence keeps its exact byte count."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from flask_babel import force_locale

from tests.support.database import new_runtime
from tests.support.factories import make_settings
from tracker.oversight.event_text import Names, when
from tracker.packaging import reports
from tracker.wording import file_size, local_time
from webui.app import create_app

WINTER = datetime(2026, 11, 26, 13, 5, 9, tzinfo=timezone.utc)  # 14.05.09 in Copenhagen (UTC+1)
SUMMER = datetime(2026, 7, 3, 9, 5, tzinfo=timezone.utc)  # 11.05 in Copenhagen (UTC+2)


@pytest.mark.parametrize("n, danish, english", [
    (0, "0 B", "0 B"), (999, "999 B", "999 B"), (1000, "1 kB", "1 kB"), (135_400, "135 kB", "135 kB"),
    (999_499, "999 kB", "999 kB"), (999_999, "1,0 MB", "1.0 MB"), (1_234_567, "1,2 MB", "1.2 MB"),
    (52_428_800, "52,4 MB", "52.4 MB"), (1_500_000_000, "1,5 GB", "1.5 GB"), (2 * 10**12, "2,0 TB", "2.0 TB"),
])
def test_a_size_is_said_in_decimal_units_with_the_languages_decimal_mark(n, danish, english):
    assert file_size(n, "da") == danish
    assert file_size(n, "en") == english


def test_a_moment_is_said_in_danish_time_with_kl_in_danish_and_at_in_english():
    assert local_time(WINTER, "da") == "26.11.2026 kl. 14.05"
    assert local_time(WINTER, "da", with_seconds=True) == "26.11.2026 kl. 14.05.09"
    assert local_time(WINTER, "en") == "26.11.2026 at 14:05"
    assert local_time(WINTER, "en", with_seconds=True) == "26.11.2026 at 14:05:09"
    assert local_time(SUMMER, "en") == "03.07.2026 at 11:05"  # summer time


def test_the_audit_sentences_time_follows_the_readers_language():
    assert when("2026-11-26T13:05:00+00:00", Names(lang="da")) == "26.11.2026 kl. 14.05"
    assert when("2026-11-26T13:05:00+00:00", Names(lang="en")) == "26.11.2026 at 14:05"
    assert when("not a time", Names(lang="en")) == "not a time"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("wording")))
    yield create_app(runtime=rt)
    rt.close()


def render(app, source: str, lang: str, **values) -> str:
    with app.test_request_context("/"), force_locale(lang):
        return app.jinja_env.from_string(source).render(**values)


def test_the_human_size_filter_speaks_the_pages_language(app):
    assert render(app, "{{ n|human_size }}", "da", n=1_234_567) == "1,2 MB"
    assert render(app, "{{ n|human_size }}", "en", n=1_234_567) == "1.2 MB"


def test_evidence_sizes_keep_the_exact_byte_count_as_value_and_title(app):
    assert render(app, "{{ n|human_size(exact=True) }}", "da", n=1_234_567) == \
        '<data value="1234567" title="1.234.567 byte">1,2 MB</data>'
    assert render(app, "{{ n|human_size(exact=True) }}", "en", n=1_234_567) == \
        '<data value="1234567" title="1,234,567 bytes">1.2 MB</data>'
    assert render(app, "{{ n|human_size(exact=True) }}", "en", n=1) == '<data value="1" title="1 byte">1 B</data>'


def test_page_dates_keep_kl_in_danish_and_never_show_it_in_english(app):
    page = "{{ t|localtime }} · {{ t|localtime(with_seconds=True) }} · {{ t|weekday_due }}"
    assert render(app, page, "da", t=WINTER) == "26.11.2026 kl. 14.05 · 26.11.2026 kl. 14.05.09 · torsdag 26.11.2026 kl. 14.05"
    assert render(app, page, "en", t=WINTER) == "26.11.2026 at 14:05 · 26.11.2026 at 14:05:09 · Thursday 26.11.2026 at 14:05"


@pytest.mark.parametrize("n, text", [
    (525, "525 byte"), (1_000, "1 kB (1.000 byte)"), (1_234_567, "1,2 MB (1.234.567 byte)"),
    (1_500_000_000, "1,5 GB (1.500.000.000 byte)"),
])
def test_the_pdf_reports_give_the_pages_size_and_the_exact_count(n, text):
    """The reports counted in 1024s but wrote kB/MB, so a file read ~5 % apart on a page and in its report."""
    assert reports._size(n) == text
