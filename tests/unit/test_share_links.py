"""What the share sheet hands over (webui/share.py): the first web address in ``url`` or ``text``, without
tracking parameters, and the shared words for "what happened"."""
from __future__ import annotations

import pytest

from webui.share import clean_address, first_address, shared_words


@pytest.mark.parametrize("url, text, expected", [
    (None, "Se her: https://www.facebook.com/story.php?story_fbid=123&id=4&fbclid=IwAR0abc&utm_source=x.",
     "https://www.facebook.com/story.php?story_fbid=123&id=4"),
    ("https://x.com/a/status/1?s=20&t=abc", "https://ignored.example/", "https://x.com/a/status/1"),
    ("", "Kig (https://www.instagram.com/p/Cx1/?igsh=MWQ1ZGUx)!", "https://www.instagram.com/p/Cx1/"),
    ("", "https://en.wikipedia.org/wiki/Foo_(film)", "https://en.wikipedia.org/wiki/Foo_(film)"),
    ("", "HTTPS://Example.org/a?utm_campaign=z&UTM_Medium=y&page=2#c3", "https://Example.org/a?page=2#c3"),
    ("", "ftp://example.org/a and then http://example.org/b", "http://example.org/b"),
    ("", "ingen adresse her", None),
    (None, None, None),
])
def test_the_first_http_address_is_taken_and_tracking_dropped(url, text, expected):
    assert first_address(url, text) == expected


def test_short_parameters_are_kept_where_they_may_be_the_page_itself():
    assert clean_address("https://www.google.com/search?s=vold&t=1") == "https://www.google.com/search?s=vold&t=1"
    assert clean_address("https://youtu.be/abc?si=XYZ&t=42") == "https://youtu.be/abc"
    assert clean_address("https://example.org/a?b=1&c=2") == "https://example.org/a?b=1&c=2"  # untouched


def test_the_shared_words_lose_the_address_and_are_kept_short():
    assert shared_words("Facebook", "Se her https://a.dk/x", "https://a.dk/x") == "Facebook\nSe her"
    assert shared_words(None, "x" * 5000, None) == "x" * 1000
