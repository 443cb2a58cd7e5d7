"""Pure parts of the capture engine: platform adapters, hashing, finding Chromium (no browser started)."""
from __future__ import annotations

import hashlib
import io
import os
import re
import shutil

import pytest
from PIL import Image

from capture import browser
from capture.adapters import GENERIC, adapter_for
from capture.errors import CaptureFailed
from capture.hashing import normalise_text, perceptual_hashes, text_sha256


@pytest.mark.parametrize("url, platform, post_id, handle, profile", [
    ("https://www.facebook.com/kommune.kritiker/posts/pfbid02abcXYZ", "facebook", "pfbid02abcXYZ",
     "kommune.kritiker", "https://www.facebook.com/kommune.kritiker"),
    ("https://m.facebook.com/story.php?story_fbid=1234567890&id=42", "facebook", "1234567890", None, None),
    ("https://www.facebook.com/groups/naboer/permalink/555/", "facebook", "555", None, None),
    ("https://www.instagram.com/p/C0dE_f-1/", "instagram", "C0dE_f-1", None, None),
    ("https://x.com/kommunehader/status/1790000000000000001", "x", "1790000000000000001",
     "kommunehader", "https://x.com/kommunehader"),
    ("https://twitter.com/i/web/status/17", "x", "17", None, None),
    ("https://www.tiktok.com/@hadekonto/video/7300000000000000000", "tiktok", "7300000000000000000",
     "hadekonto", "https://www.tiktok.com/@hadekonto"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "youtube", "dQw4w9WgXcQ", None, None),
    ("https://youtu.be/dQw4w9WgXcQ", "youtube", "dQw4w9WgXcQ", None, None),
    ("https://www.linkedin.com/feed/update/urn:li:activity:7100000000000000000/", "linkedin",
     "7100000000000000000", None, None),
    ("https://www.reddit.com/r/Denmark/comments/abc123/titel/", "reddit", "abc123", None, None),
    ("https://old.reddit.com/user/trold/comments/xyz9/", "reddit", "xyz9", "trold", "https://www.reddit.com/user/trold/"),
    ("https://www.dr.dk/nyheder/indland/artikel", "generic", None, None, None),
])
def test_the_platform_post_id_and_author_come_from_the_url(url, platform, post_id, handle, profile):
    adapter = adapter_for(url)
    ref = adapter.post_ref(url)
    assert (adapter.name, ref["id"], ref["author_handle"], ref["author_profile_url"]) == (
        platform, post_id, handle, profile)


def test_a_lookalike_host_is_not_the_platform():
    assert adapter_for("https://notfacebook.com/x/posts/1") is GENERIC
    assert adapter_for("https://facebook.com.evil.dk/x/posts/1") is GENERIC


def test_login_pages_are_recognised_by_path():
    assert adapter_for("https://x.com/i/flow/login").is_login_url("https://x.com/i/flow/login?redirect=1")
    assert adapter_for("https://www.instagram.com/").is_login_url("https://www.instagram.com/accounts/login/")
    assert adapter_for("https://www.facebook.com/").is_login_url("https://www.facebook.com/login.php?next=x")
    assert not adapter_for("https://x.com/").is_login_url("https://x.com/kommunehader/status/1")
    assert not GENERIC.is_login_url("https://www.dr.dk/loginside-om-noget")


def test_generic_knows_every_platforms_tombstone_and_the_danish_one():
    assert "This content isn't available right now" in GENERIC.tombstone_texts
    assert "Dette indhold er ikke tilgængeligt" in GENERIC.tombstone_texts


def test_text_is_normalised_before_hashing():
    assert normalise_text(" A\u030a  b\n\t c 😡 ") == "Å b c 😡"
    assert text_sha256("Å  b\n") == hashlib.sha256("Å b".encode()).hexdigest()
    assert text_sha256("Å b") == text_sha256("A\u030a\u00a0b")  # NFC + no-break space collapsed
    assert text_sha256("   ") is None and text_sha256(None) is None


def test_perceptual_hashes_are_64_bit_hex_and_name_their_basis():
    img = Image.new("RGB", (120, 80), (255, 255, 255))
    for x in range(60):
        for y in range(80):
            img.putpixel((x, y), (0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    hashes = perceptual_hashes(buf.getvalue(), "screenshot_viewport")
    assert hashes["basis"] == "screenshot_viewport"
    assert len(hashes["phash"]) == 16 and len(hashes["dhash"]) == 16
    int(hashes["phash"], 16), int(hashes["dhash"], 16)


def test_the_system_chromium_is_found_and_its_major_matches_playwrights():
    """Which Chromium this machine has is read here, not written down (the e2e tests launch it)."""
    installed = [p for p in (c if os.path.isabs(c) else shutil.which(c) for c in browser.SYSTEM_CHROMIUM)
                 if p and os.access(p, os.X_OK)]
    if installed:
        assert browser.find_chromium(None, "/nonexistent/ms-playwright/chrome") == installed[0]
    bundled = browser.bundled_chromium_version()
    assert re.fullmatch(r"\d+(\.\d+){3}", bundled), bundled
    same_major = f"{browser.major(bundled)}.0.1.2"
    assert browser.major(same_major) == browser.major(bundled)
    assert browser.check_version_match(same_major, bundled)


def test_a_major_version_mismatch_is_logged_as_a_warning(caplog):
    assert not browser.check_version_match("159.0.1", "156.0.8078.4")
    assert "does not match" in caplog.text


def test_a_configured_chromium_that_does_not_exist_is_a_capture_failure():
    with pytest.raises(CaptureFailed):
        browser.find_chromium("/nonexistent/chromium", None)


@pytest.mark.parametrize("text, nice", [
    ("/autogroup-85 nice 0\n", 0),
    ("/autogroup-3 nice 10\n", 10),
    ("/autogroup-3 nice -5\n", -5),
    ("", None),  # the kernel found no autogroup for the task (CI: a Chromium helper that was ending)
    ("\n", None),
    ("/autogroup-3 nice\n", None),
    ("something else entirely\n", None),
    ("/autogroup-3 nice x\n", None),
])
def test_the_autogroup_file_is_read_as_written_and_anything_else_is_no_autogroup(text, nice):
    """An empty autogroup file once stopped every capture from starting (lowering a priority is never worth that)."""
    assert browser.parse_autogroup(text) == nice

