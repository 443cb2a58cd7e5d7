"""The redaction rules of capture/profiles.py, pure: headers, token parameters, masked bytes (also gzip'ed)."""
from __future__ import annotations

import gzip

import pytest

from capture.profiles import CaptureProfile, check_storage_state, mask, mask_body, redact_header, redact_url
from tracker.accounts.profiles import matches, parse_hosts
from tracker.errors import DomainError

SECRET = "abcdef0123456789-session"


@pytest.mark.parametrize("name, value, expected", [
    ("Cookie", "c_user=1234; xs=secret%3Avalue; fr=zzz", "c_user=REDACTED; xs=REDACTED; fr=REDACTED"),
    ("set-cookie", "xs=secret; Path=/; Domain=.facebook.com; HttpOnly", "xs=REDACTED; Path=/; Domain=.facebook.com; HttpOnly"),
    ("Authorization", "Bearer eyJhbGciOi.secret", "Bearer REDACTED"),
    ("Proxy-Authorization", "opaque", "REDACTED"),
    ("Content-Type", "text/html", "text/html"),
])
def test_secret_headers_lose_their_values_but_keep_names_and_attributes(name, value, expected):
    assert redact_header(name, value) == expected


def test_known_token_parameters_are_replaced_and_other_addresses_stay_byte_for_byte():
    assert redact_url("https://x.com/a?access_token=s3cr3t&id=7") == "https://x.com/a?access_token=REDACTED&id=7"
    plain = "https://www.facebook.com/groups/1/posts/2?comment_id=3&__cft__[0]=AZ%20x"
    assert redact_url(plain) == plain


def test_profile_values_are_masked_at_the_same_length_raw_percent_encoded_and_inside_gzip():
    profile = CaptureProfile("fb", "Konto", {"cookies": [{"name": "xs", "value": SECRET, "domain": "x"},
                                                         {"name": "short", "value": "1", "domain": "x"}],
                                             "origins": [{"origin": "https://x", "localStorage": [
                                                 {"name": "t", "value": "ls:value/with space"}]}]})
    secrets = profile.secrets()
    assert secrets == ["abcdef0123456789-session", "ls:value/with space"] and "1" not in secrets
    data = f"a {SECRET} b ls%3Avalue%2Fwith%20space c".encode()
    masked, n = mask(data, secrets)
    assert n == 2 and len(masked) == len(data) and SECRET.encode() not in masked and b"REDACTED" in masked
    body = gzip.compress(f"<p>{SECRET}</p>".encode())
    out, n = mask_body(body, [(b"Content-Encoding", b"gzip")], secrets)
    assert n == 1 and SECRET.encode() not in gzip.decompress(out)
    assert repr(profile).count(SECRET) == 0, "the state is never in a repr (logs)"


def test_storage_states_and_hosts_are_checked():
    assert check_storage_state({"cookies": []}) == {"cookies": [], "origins": []}
    for bad in ([], {"cookies": [{"name": "x"}]}, {"cookies": [], "origins": [{"x": 1}]}):
        with pytest.raises(ValueError):
            check_storage_state(bad)
    assert parse_hosts("Facebook.com., m.facebook.com:443 facebook.com") == ["facebook.com", "m.facebook.com:443"]
    for bad in ("", "a b c!", "x.dk:0", "x.dk:99999", "http://x.dk"):
        with pytest.raises(DomainError):
            parse_hosts(bad)
    assert matches(["facebook.com"], "https://facebook.com:8443/x") == 1
    assert matches(["facebook.com:443"], "https://FACEBOOK.com./x") == 2
    assert matches(["facebook.com"], "https://m.facebook.com/x") == 0
