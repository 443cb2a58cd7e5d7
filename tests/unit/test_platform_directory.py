"""The platform directory: the shipped file, detection by URL, and one clear line for each broken file."""
from __future__ import annotations

from pathlib import Path

import pytest

from capture.adapters import GENERIC, PLATFORMS
from tracker.workflow.platforms import (DEFAULT_PATH, PlatformDirectoryError, load_platform_directory,
                               platform_for_url)
from tests.support.database import new_runtime


@pytest.fixture(scope="module")
def directory():
    return load_platform_directory()


# -- the shipped file -----------------------------------------------------------------------------

def test_the_shipped_file_loads_with_every_platform_and_one_fallback(directory):
    ids = [p.id for p in directory.platforms]
    assert {"facebook", "instagram", "x", "tiktok", "youtube", "linkedin", "reddit",
            "snapchat", "telegram", "trustpilot", "google", "generic"} == set(ids)
    assert directory.fallback.id == "generic"
    assert directory.fallback.hosts == ()
    assert directory.path == DEFAULT_PATH


def test_every_shipped_entry_is_unverified_because_the_research_used_stored_copies(directory):
    assert {p.id: p.verified for p in directory.platforms if p.verified is not False} == {}


@pytest.mark.parametrize("platform_id", ["linkedin", "reddit", "snapchat", "trustpilot"])
def test_a_platform_without_a_known_dsa_form_has_none_but_points_to_its_general_report_page(directory, platform_id):
    platform = directory.get(platform_id)
    assert platform.dsa_notice_url is None
    assert platform.general_report_url


@pytest.mark.parametrize("platform_id", ["x", "tiktok", "reddit", "snapchat", "trustpilot", "telegram"])
def test_a_defamation_form_platforms_md_did_not_find_is_left_out(directory, platform_id):
    assert directory.get(platform_id).defamation_report_url is None


@pytest.mark.parametrize("platform_id", ["facebook", "instagram", "x", "youtube", "google", "linkedin"])
def test_no_notice_email_is_given_where_none_is_open_to_a_municipality(directory, platform_id):
    assert directory.get(platform_id).email is None


@pytest.mark.parametrize("platform_id", ["facebook", "youtube", "google"])
def test_the_notes_say_who_may_file_a_privacy_report(directory, platform_id):
    assert "repræsentant" in directory.get(platform_id).notes_da


def test_every_channel_has_a_confidence_grade(directory):
    for platform in directory.platforms:
        assert set(platform.confidence) == set(platform.channels()), platform.id


def test_the_directory_knows_every_platform_the_capture_engine_has_an_adapter_for(directory):
    for adapter in PLATFORMS:
        for host in adapter.hosts:
            assert platform_for_url(f"https://{host}/", directory).id == adapter.name, host
    assert directory.fallback.id == GENERIC.name


# -- detection ------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, platform_id", [
    ("https://www.facebook.com/somepage/posts/pfbid02aBcD", "facebook"),
    ("https://m.facebook.com/story.php?story_fbid=123&id=456", "facebook"),
    ("https://web.facebook.com/groups/kommunegruppe/permalink/456/", "facebook"),
    ("https://zh-hk.facebook.com/photo.php?fbid=123", "facebook"),
    ("https://www.facebook.com/watch/?v=123", "facebook"),
    ("https://www.facebook.com/reel/123", "facebook"),
    ("https://fb.watch/abcDEF/", "facebook"),
    ("https://fb.com/permalink.php?story_fbid=1", "facebook"),
    ("https://www.instagram.com/p/Cabc123/", "instagram"),
    ("https://instagram.com/reel/Cxyz/", "instagram"),
    ("https://www.instagram.com/stories/someone/3123/", "instagram"),
    ("https://x.com/someone/status/1712345678901234567", "x"),
    ("https://twitter.com/i/web/status/1712345678901234567", "x"),
    ("https://mobile.twitter.com/someone/status/1", "x"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "youtube"),
    ("https://m.youtube.com/shorts/dQw4w9WgXcQ", "youtube"),
    ("https://youtu.be/dQw4w9WgXcQ", "youtube"),
    ("https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", "youtube"),
    ("https://www.tiktok.com/@someone/video/7312345678901234567", "tiktok"),
    ("https://vm.tiktok.com/ZMabc123/", "tiktok"),
    ("https://vt.tiktok.com/ZSabc123/", "tiktok"),
    ("https://www.tiktok.com/t/ZTabc123/", "tiktok"),
    ("https://www.reddit.com/r/Denmark/comments/abc123/title/", "reddit"),
    ("https://old.reddit.com/user/someone/comments/abc123/", "reddit"),
    ("https://v.redd.it/abc123", "reddit"),
    ("https://www.linkedin.com/posts/someone_slug-activity-7123456789012345678-abcd", "linkedin"),
    ("https://www.linkedin.com/feed/update/urn:li:activity:7123456789012345678/", "linkedin"),
    ("https://www.snapchat.com/spotlight/W7_EDlXWTBiXAEEniNoMPwAA", "snapchat"),
    ("https://t.me/somechannel/123", "telegram"),
    ("https://t.me/c/1234567/89", "telegram"),
    ("https://dk.trustpilot.com/reviews/65a1b2c3d4e5f6a7b8c9d0e1", "trustpilot"),
    ("https://www.trustpilot.com/review/example.dk", "trustpilot"),
    ("https://www.google.dk/search?q=navn", "google"),
    ("https://kommune-kritik.blogspot.example/2026/11/indlaeg.html", "generic"),
])
def test_a_typical_post_url_finds_its_platform(directory, url, platform_id):
    assert platform_for_url(url, directory).id == platform_id


@pytest.mark.parametrize("url", [
    "https://facebook.com.evil.example/somepage/posts/1",
    "https://notfacebook.com/somepage/posts/1",
    "https://facebook.co/somepage/posts/1",
    "https://evil-facebook.com/",
    "https://box.com/someone/status/1",  # ends in "x.com" but is not x.com
    "https://at.me/channel/1",  # ends in "t.me"
    "https://youtu.be.evil.example/dQw4w9WgXcQ",
    "https://faсebook.com/",  # Cyrillic "с": an IDN homograph, xn--faebook-zjg.com
    "https://facebook.com@evil.example/somepage/posts/1",  # user info, the host is evil.example
    "https://evil.example\\@facebook.com/",  # a browser reads "\" as "/": the host is evil.example
])
def test_a_lookalike_host_gets_the_fallback(directory, url):
    assert platform_for_url(url, directory).id == "generic"


@pytest.mark.parametrize("url", [
    "HTTPS://WWW.FACEBOOK.COM/SomePage/posts/1",
    "https://www.facebook.com:443/somepage/posts/1",
    "http://m.facebook.com:8080/somepage/posts/1",
    "https://www.facebook.com./somepage/posts/1",
    "https://ｗｗｗ.facebook.com/somepage/posts/1",  # full-width letters: browsers map them to ASCII
    "https://%66acebook.com/somepage/posts/1",  # browsers percent-decode the host
    "  https://www.facebook.com/somepage/posts/1\n",
    "www.facebook.com/somepage/posts/1",
    "facebook.com:443/somepage/posts/1",
])
def test_case_ports_trailing_dots_and_pasted_variants_still_find_the_platform(directory, url):
    assert platform_for_url(url, directory).id == "facebook"


@pytest.mark.parametrize("url", ["", "not a url", "mailto:someone@facebook.com", "http://[::1", "https://",
                                 "http://192.0.2.1/post", "https://[2001:db8::1]/post",
                                 "https://" + "a" * 64 + ".facebook.com/"])
def test_an_unreadable_or_unknown_url_gets_the_fallback(directory, url):
    assert platform_for_url(url, directory).id == "generic"


def test_an_internationalized_host_matches_in_unicode_and_punycode(tmp_path):
    path = tmp_path / "platforms.toml"
    path.write_text(VALID.replace('hosts = ["facebook.com"]', 'hosts = ["Bøgeskov.dk"]'), encoding="utf-8")
    directory = load_platform_directory(path)
    assert directory.get("facebook").hosts == ("xn--bgeskov-q1a.dk",)
    for url in ("https://www.BØGESKOV.dk/x", "https://xn--bgeskov-q1a.dk/x", "https://forum.bøgeskov.dk/"):
        assert platform_for_url(url, directory).id == "facebook", url
    assert platform_for_url("https://bogeskov.dk/", directory).id == "generic"


# -- broken files ---------------------------------------------------------------------------------

VALID = '''\
[[platform]]
id = "facebook"
name = "Facebook"
hosts = ["facebook.com"]
dsa_notice_url = "https://m.facebook.com/help/contact/319149701968527"
verified = false

[platform.confidence]
dsa_notice_url = "H"

[[platform]]
id = "generic"
name = "Anden hjemmeside"
fallback = true
'''
FB = "platform 'facebook'"


def error_for(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlatformDirectoryError) as caught:
        load_platform_directory(path)
    assert caught.value.code == "platforms_invalid"
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def test_the_minimal_valid_file_loads(tmp_path):
    path = tmp_path / "platforms.toml"
    path.write_text(VALID, encoding="utf-8")
    assert [p.id for p in load_platform_directory(path).platforms] == ["facebook", "generic"]


@pytest.mark.parametrize("old, new, expected", [
    ('verified = false', 'verified = false\nfax = "1"', f"{FB}, field 'fax': unknown key"),
    ('name = "Facebook"\n', '', f"{FB}, field 'name': missing"),
    ('name = "Facebook"', 'name = "   "', f"{FB}, field 'name': String should have at least 1 character"),
    ('id = "facebook"\n', '', "platform #1, field 'id': missing"),
    ('id = "facebook"', 'id = "Face Book"',
     "platform 'Face Book', field 'id': String should match pattern '^[a-z0-9][a-z0-9-]*$'"),
    ('https://m.facebook', 'htps://m.facebook',
     f"{FB}, field 'dsa_notice_url': not an https URL: 'htps://m.facebook.com/help/contact/319149701968527'"),
    ('https://m.facebook', 'http://m.facebook',
     f"{FB}, field 'dsa_notice_url': not an https URL: 'http://m.facebook.com/help/contact/319149701968527'"),
    ('"https://m.facebook.com/help/contact/319149701968527"', '"https://m.facebook.com/help contact"',
     f"{FB}, field 'dsa_notice_url': not an https URL: 'https://m.facebook.com/help contact'"),
    ('"facebook.com"', '"*.facebook.com"',
     f"{FB}, field 'hosts[0]': '*.facebook.com' is not a bare host name "
     "(write a bare host name such as 'facebook.com'; its subdomains match automatically)"),
    ('"facebook.com"', '"fb.com", "https://facebook.com/"',
     f"{FB}, field 'hosts[1]': 'https://facebook.com/' is not a bare host name "
     "(write a bare host name such as 'facebook.com'; its subdomains match automatically)"),
    ('"facebook.com"', '"com"',
     f"{FB}, field 'hosts[0]': 'com' is not a host name "
     "(write a bare host name such as 'facebook.com'; its subdomains match automatically)"),
    ('hosts = ["facebook.com"]', 'hosts = []',
     f"{FB}, field 'hosts': at least one host is needed (only the fallback entry has none)"),
    ('fallback = true', 'fallback = true\nhosts = ["example.org"]',
     "platform 'generic', field 'hosts': the fallback entry covers every other site and must have no hosts"),
    ('fallback = true', 'fallback = "yes"', "platform 'generic', field 'fallback': Input should be a valid boolean"),
    ('verified = false', 'verified = "2026-11-26"',
     f"{FB}, field 'verified': must be a date written as 2026-11-26 (no quotes) or false, got '2026-11-26'"),
    ('verified = false', 'verified = true',
     f"{FB}, field 'verified': must be a date written as 2026-11-26 (no quotes) or false, got True"),
    ('dsa_notice_url = "H"', 'dsa_notice_url = "high"',
     f"{FB}, field 'confidence.dsa_notice_url': Input should be 'H', 'M' or 'L'"),
    ('[platform.confidence]\ndsa_notice_url = "H"', '',
     f"{FB}, field 'confidence.dsa_notice_url': missing (grade every channel H, M or L)"),
    ('dsa_notice_url = "H"', 'dsa_notice_url = "H"\nemail = "L"',
     f"{FB}, field 'confidence.email': grades a channel this entry does not give"),
    ('dsa_notice_url = "H"', 'dsa_notice_url = "H"\nfax = "L"',
     f"{FB}, field 'confidence.fax': unknown channel (expected one of dsa_notice_url, general_report_url, "
     "privacy_report_url, defamation_report_url, email)"),
    ('verified = false', 'verified = false\nemail = "legal at facebook"',
     f"{FB}, field 'email': not an e-mail address: 'legal at facebook'"),
    ('dsa_notice_url = "H"', 'dsa_notice_url = "H"\n[platform.sources]\nprices = ["https://a.example/"]',
     f"{FB}, field 'sources.prices': unknown field (expected one of dsa_notice_url, general_report_url, "
     "privacy_report_url, defamation_report_url, email, hosts, notes_da)"),
    ('dsa_notice_url = "H"',
     'dsa_notice_url = "H"\n[platform.sources]\nnotes_da = ["https://a.example/", "ftp://b.example/"]',
     f"{FB}, field 'sources.notes_da[1]': not an http or https URL: 'ftp://b.example/'"),
    ('name = "Facebook"', 'name = Facebook', "not valid TOML: Invalid value (at line 3, column 8)"),
    ('[[platform]]\nid = "facebook"', 'title = "Værn"\n[[platform]]\nid = "facebook"',
     "unknown top-level key 'title' (expected only [[platform]] tables)"),
    ('fallback = true', 'hosts = ["example.org"]',
     "no entry has fallback = true (the entry for every other site)"),
])
def test_a_broken_file_gives_one_line_naming_the_entry_and_field(tmp_path, old, new, expected):
    assert old in VALID
    assert error_for(tmp_path / "platforms.toml", VALID.replace(old, new, 1)) == expected


def test_a_second_entry_with_an_existing_id_is_refused(tmp_path):
    text = VALID + '\n[[platform]]\nid = "facebook"\nname = "Facebook igen"\nhosts = ["fb.com"]\n'
    assert error_for(tmp_path / "p.toml", text) == \
        "platform 'facebook', field 'id': duplicate id (also platform #1)"


@pytest.mark.parametrize("host, theirs", [("facebook.com", "facebook.com"), ("m.facebook.com", "facebook.com")])
def test_a_host_another_entry_already_covers_is_refused(tmp_path, host, theirs):
    text = VALID + f'\n[[platform]]\nid = "meta"\nname = "Meta"\nhosts = ["{host}"]\n'
    assert error_for(tmp_path / "p.toml", text) == \
        f"platform 'meta', field 'hosts': {host!r} overlaps {theirs!r} of {FB}"


def test_a_parent_of_another_entrys_host_is_refused(tmp_path):
    text = VALID.replace('"facebook.com"', '"m.facebook.com"') + \
        '\n[[platform]]\nid = "meta"\nname = "Meta"\nhosts = ["facebook.com"]\n'
    assert error_for(tmp_path / "p.toml", text) == \
        f"platform 'meta', field 'hosts': 'facebook.com' overlaps 'm.facebook.com' of {FB}"


def test_a_second_fallback_entry_is_refused(tmp_path):
    text = VALID + '\n[[platform]]\nid = "other"\nname = "Andet"\nfallback = true\n'
    assert error_for(tmp_path / "p.toml", text) == \
        "platform 'other', field 'fallback': a second fallback entry (platform 'generic' is the fallback)"


def test_a_copy_of_the_shipped_file_with_one_entry_duplicated_names_the_copy(tmp_path):
    shipped = DEFAULT_PATH.read_text(encoding="utf-8")
    entries = shipped.split("\n[[platform]]\n")
    first_entry = "[[platform]]\n" + entries[1]
    assert error_for(tmp_path / "copy.toml", shipped + "\n" + first_entry) == \
        "platform 'facebook', field 'id': duplicate id (also platform #1)"


@pytest.mark.parametrize("text, expected", [
    ("", "no [[platform]] entries"),
    ('[platform]\nid = "x"\n', "no [[platform]] entries"),
    ('platform = ["facebook"]\n', "platform #1: not a table (write it as [[platform]])"),
])
def test_a_file_without_platform_entries_is_refused(tmp_path, text, expected):
    assert error_for(tmp_path / "p.toml", text) == expected


def test_a_missing_file_is_one_line_too(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(PlatformDirectoryError) as caught:
        load_platform_directory(path)
    assert str(caught.value) == f"{path}: cannot read the file: No such file or directory"


def test_a_case_opened_from_a_facebook_url_knows_its_platform_and_shows_its_reporting_channels(tmp_path):
    from storage.models import Role
    from tracker.cases.register import Report, open_case
    from tracker.settings import Settings
    from tracker.accounts.users import add_unit, add_user
    from webui.app import create_app

    rt = new_runtime(Settings(_env_file=None, data_dir=tmp_path))
    try:
        with rt.transaction() as s:
            unit = add_unit(s, "Jobcenter")
            user = add_user(s, email="m@x.dk", name="M", role=Role.employee, password="a-long-password",
                            unit=unit)
            add_user(s, email="l@x.dk", name="L", role=Role.leader, password="a-long-password", unit=unit)
            case = open_case(s, user, Report(url="https://www.facebook.com/groups/1/posts/2/",
                                             episode_at=None, description=""))
            other = open_case(s, user, Report(url="https://blog.example.dk/indlaeg", episode_at=None,
                                              description=""))
            refs = case.ref, other.ref
        with rt.Session() as s:
            from sqlalchemy import select

            from storage.models import Case
            assert dict(s.execute(select(Case.ref, Case.platform)).all()) == {refs[0]: "facebook", refs[1]: "generic"}
        app = create_app(runtime=rt)
        app.config["WTF_CSRF_ENABLED"] = False
        client = app.test_client()
        client.post("/login", data={"email": "l@x.dk", "password": "a-long-password"})  # the leader reports it
        page = client.get(f"/cases/{refs[0]}").get_data(as_text=True)
        facebook = shipped_directory_entry("facebook")
        assert facebook.name in page and facebook.dsa_notice_url in page
    finally:
        rt.close()


def shipped_directory_entry(platform_id):
    from tracker.workflow.platforms import shipped_directory

    return shipped_directory().get(platform_id)
