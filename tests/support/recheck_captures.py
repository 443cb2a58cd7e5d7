"""Synthetic capture manifests and sealed bundles for re-check tests (no browser needed)."""
from __future__ import annotations

from capture.bundle import Artifact as BundleArtifact
from capture.bundle import EvidenceBundle
from storage.models import Evidence, EvidenceState, Recheck
from tests.support.factories import png_bytes
from tracker.workflow import recheck
from tracker.cases.evidence import store_bundle

POST_URL = "https://example.org/opslag/1"


#: the post's text in the synthetic captures (its start is the manifest's ``post.text_excerpt``)
POST_TEXT = "Sagsbehandleren på jobcentret burde skammes ud. Jeg ved hvor hun bor."


def manifest(status="ok", http=200, final_url=POST_URL, text="a" * 64, phash="ffff0000ffff0000",
             dhash="0f0f0f0f0f0f0f0f", basis="screenshot_post", platform="generic", excerpt=POST_TEXT) -> dict:
    """The manifest fields a re-check reads; defaults: the post online, its element found."""
    return {"status": status, "http": {"status": http, "headers": {}} if http else None, "final_url": final_url,
            "requested_url": POST_URL, "platform": platform, "text_sha256": text,
            "post": {"text_excerpt": excerpt if text else None},
            "perceptual_hashes": {"basis": basis, "phash": phash, "dhash": dhash} if basis else None}


def gone() -> dict:
    return manifest(status="not_found", http=404, text=None, basis=None)


def sealed(m: dict, page_text: str = "Opslag") -> EvidenceBundle:
    """A sealed bundle with manifest ``m``, a screenshot and ``page_text`` as the page's visible text."""
    arts = [BundleArtifact("screenshot_viewport.png", "screenshot_viewport", "image/png", png_bytes()),
            BundleArtifact("text.txt", "text", "text/plain; charset=utf-8", page_text.encode("utf-8"))]
    m = dict(m)
    return EvidenceBundle.seal(m.pop("status"), arts, m)


def finish(rt, recheck_id: int, m: dict | None, state: str = "done", page_text: str = "Opslag") -> str | None:
    """End a re-check's capture with manifest ``m`` (or in job state ``state``), then run the job hook."""
    with rt.Session() as s:
        ev_id = s.get(Recheck, recheck_id).evidence_id
    if state == "done":
        store_bundle(rt, ev_id, sealed(m, page_text))
    else:
        with rt.transaction() as s:
            s.get(Evidence, ev_id).state = EvidenceState(state)
    return recheck.after_capture(rt, ev_id)
