"""Platform adapters: what a post looks like on each platform, as data.

An adapter says which hosts it covers, how to read the post id and author from a URL, which CSS
selectors find the post element, which texts mean "removed" (tombstones) and which URL paths or
texts mean "log in first" (those two from capture/login_walls.toml, Danish and English). Detection is rule-based (tech.md §3): perceptual hashes only corroborate.
Sources for patterns and texts: /work/shared/research/platforms.md §2–§4.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from .wall_rules import login_rules


@dataclass(frozen=True)
class Adapter:
    """One platform's rules; ``generic`` covers every other site."""

    name: str
    hosts: tuple[str, ...]  #: registrable domains; subdomains match too
    #: regexes over "path?query"; named groups ``id`` and (optionally) ``user``
    post_patterns: tuple[str, ...] = ()
    post_selectors: tuple[str, ...] = ("article", "[role='article']")
    #: selector (inside the post element) of a link to the author's profile
    author_selectors: tuple[str, ...] = ("a[rel='author']",)
    profile_url: str | None = None  #: "https://x.com/{handle}"
    tombstone_texts: tuple[str, ...] = ()
    login_paths: tuple[str, ...] = ()  #: path prefixes of login/checkpoint pages
    login_texts: tuple[str, ...] = ()
    _compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(re.compile(p) for p in self.post_patterns))

    def matches(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host == h or host.endswith("." + h) for h in self.hosts)

    def post_ref(self, url: str) -> dict[str, str | None]:
        """Post id, author handle and profile URL as far as the URL tells them (None where it doesn't)."""
        parts = urlsplit(url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        for pattern in self._compiled:
            m = pattern.search(target)
            if m:
                groups = m.groupdict()
                handle = groups.get("user")
                return {"id": groups.get("id"), "author_handle": handle,
                        "author_profile_url": self.profile_for(handle)}
        if self.name == "youtube":  # watch?v= lives in the query string
            vid = parse_qs(parts.query).get("v", [None])[0]
            if vid:
                return {"id": vid, "author_handle": None, "author_profile_url": None}
        return {"id": None, "author_handle": None, "author_profile_url": None}

    def profile_for(self, handle: str | None) -> str | None:
        if not handle or not self.profile_url:
            return None
        return self.profile_url.format(handle=handle.lstrip("@"))

    def is_login_url(self, url: str) -> bool:
        """The path is a login page or below one (``/login``, ``/login/``, ``/login.php``; not ``/loginside``)."""
        path = urlsplit(url).path.lower().rstrip("/")
        return any(path == p or path.startswith(p + "/") for p in self.login_paths)


# Danish texts are our best guess of the platforms' wording (platforms.md §3: none confirmed).
_DANISH_TOMBSTONES = (
    "Dette indhold er ikke tilgængeligt",
    "Indholdet er ikke tilgængeligt",
    "Denne side er ikke tilgængelig",
    "Siden blev ikke fundet",
    "Opslaget er blevet slettet",
)


def _login(platform: str) -> dict[str, tuple[str, ...]]:
    """Login paths and wording come from capture/login_walls.toml (data a maintainer changes)."""
    rules = login_rules(platform)
    return {"login_paths": rules.paths, "login_texts": rules.phrases}


FACEBOOK = Adapter(
    name="facebook",
    hosts=("facebook.com", "fb.com", "fb.watch"),
    post_patterns=(
        r"^/(?P<user>[\w.\-]+)/(?:posts|videos)/(?P<id>pfbid\w+|\d+)",
        r"^/groups/[\w.\-]+/(?:permalink|posts)/(?P<id>\d+)",
        r"[?&]story_fbid=(?P<id>pfbid\w+|\d+)",
        r"^/(?:photo|video)\.php\?(?:.*&)?(?:fbid|v)=(?P<id>\d+)",
        r"^/watch/?\?(?:.*&)?v=(?P<id>\d+)",
        r"^/reel/(?P<id>\d+)",
    ),
    post_selectors=("[role='article']", "div[data-pagelet^='FeedUnit']", "article"),
    author_selectors=("h2 a[href]", "h3 a[href]", "strong a[href]"),
    profile_url="https://www.facebook.com/{handle}",
    tombstone_texts=("This content isn't available right now", "This content is no longer available",
                     "The link you followed may be broken", "Este contenido no está disponible en este momento",
                     *_DANISH_TOMBSTONES),
    **_login("facebook"),
)

INSTAGRAM = Adapter(
    name="instagram",
    hosts=("instagram.com",),
    post_patterns=(r"^/(?:p|reel|reels|tv)/(?P<id>[\w\-]+)", r"^/stories/(?P<user>[\w.]+)/(?P<id>\d+)"),
    post_selectors=("article", "main [role='presentation']"),
    author_selectors=("header a[href]",),
    profile_url="https://www.instagram.com/{handle}/",
    tombstone_texts=("Sorry, this page isn't available.",
                     "The link you followed may be broken, or the page may have been removed.",
                     *_DANISH_TOMBSTONES),
    **_login("instagram"),
)

X = Adapter(
    name="x",
    hosts=("x.com", "twitter.com"),
    post_patterns=(r"^/(?P<user>(?!i/)\w{1,15})/status(?:es)?/(?P<id>\d+)", r"^/i/web/status/(?P<id>\d+)",
                   r"^/statuses/(?P<id>\d+)"),
    post_selectors=("article[data-testid='tweet']", "[data-testid='tweet']", "article"),
    author_selectors=("[data-testid='User-Name'] a[href]", "a[role='link'][href^='/']"),
    profile_url="https://x.com/{handle}",
    tombstone_texts=("Hmm...this page doesn't exist.", "This Post was deleted by the Post author.",
                     "This Post is from an account that no longer exists.", "This account has been suspended",
                     *_DANISH_TOMBSTONES),
    **_login("x"),
)

TIKTOK = Adapter(
    name="tiktok",
    hosts=("tiktok.com",),
    post_patterns=(r"^/@(?P<user>[\w.]+)/video/(?P<id>\d+)", r"^/embed(?:/v2)?/(?P<id>\d+)", r"^/t/(?P<id>\w+)"),
    post_selectors=("[data-e2e='browse-video-desc']", "[data-e2e='video-detail']", "article"),
    author_selectors=("[data-e2e='browse-username']", "a[href^='/@']"),
    profile_url="https://www.tiktok.com/@{handle}",
    tombstone_texts=("This video is currently unavailable", "Couldn't find this account",
                     "Video currently unavailable", *_DANISH_TOMBSTONES),
    **_login("tiktok"),
)

YOUTUBE = Adapter(
    name="youtube",
    hosts=("youtube.com", "youtube-nocookie.com", "youtu.be"),
    post_patterns=(r"^/(?:shorts|live|embed)/(?P<id>[\w\-]{11})", r"^/(?P<id>[\w\-]{11})$"),
    post_selectors=("ytd-watch-metadata", "#above-the-fold", "ytd-reel-video-renderer", "#player"),
    author_selectors=("ytd-channel-name a[href]", "#owner a[href]"),
    profile_url="https://www.youtube.com/{handle}",
    tombstone_texts=("Video unavailable", "This video isn't available anymore",
                     "This video has been removed by the uploader", "This video has been removed for violating",
                     "account associated with this video has been terminated", "Videoen er ikke tilgængelig",
                     *_DANISH_TOMBSTONES),
    **_login("youtube"),
)

LINKEDIN = Adapter(
    name="linkedin",
    hosts=("linkedin.com",),
    post_patterns=(r"^/posts/(?P<user>[\w\-]+?)_[\w\-]*?-(?P<id>\d{15,})", r"urn:li:activity:(?P<id>\d+)"),
    post_selectors=("[data-urn^='urn:li:activity']", ".feed-shared-update-v2", "article"),
    author_selectors=(".update-components-actor__meta a[href]", "a[href*='/in/']"),
    profile_url="https://www.linkedin.com/in/{handle}/",
    # "This post cannot be displayed" also appears when access is gated: not proof of removal (platforms.md §3)
    tombstone_texts=(*_DANISH_TOMBSTONES,),
    **_login("linkedin"),
)

REDDIT = Adapter(
    name="reddit",
    hosts=("reddit.com", "redd.it"),
    post_patterns=(r"^/r/[\w]+/comments/(?P<id>\w+)", r"^/user/(?P<user>[\w\-]+)/comments/(?P<id>\w+)",
                   r"^/(?P<id>\w{5,8})$"),
    post_selectors=("shreddit-post", "[data-testid='post-container']", "article"),
    author_selectors=("a[href^='/user/']",),
    profile_url="https://www.reddit.com/user/{handle}/",
    tombstone_texts=("Sorry, this post was removed by Reddit's filters", "removed by the moderators",
                     "Sorry, this post has been removed", "Sorry, this post was deleted", *_DANISH_TOMBSTONES),
    **_login("reddit"),
)

PLATFORMS: tuple[Adapter, ...] = (FACEBOOK, INSTAGRAM, X, TIKTOK, YOUTUBE, LINKEDIN, REDDIT)

GENERIC = Adapter(
    name="generic",
    hosts=(),
    post_selectors=("article[data-testid='tweet']", "[data-testid='post-container']", "[role='article']",
                    "article", "[itemtype*='SocialMediaPosting']", "[itemtype*='Comment']"),
    author_selectors=("a[rel='author']", "[itemprop='author'] a[href]", "[data-testid='User-Name'] a[href]",
                      "h2 a[href]", "h3 a[href]", "header a[href]"),
    # Unknown sites: every platform's wording, trusted only on short pages or with a 404 (see manifest.py).
    tombstone_texts=tuple(dict.fromkeys(t for a in PLATFORMS for t in a.tombstone_texts)),
    **_login("generic"),
)


def adapter_for(url: str) -> Adapter:
    """The adapter for ``url``'s host; ``GENERIC`` when no platform claims it."""
    host = urlsplit(url).hostname or ""
    return next((a for a in PLATFORMS if a.matches(host)), GENERIC)
