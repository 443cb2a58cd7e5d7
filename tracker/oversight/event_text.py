"""One sentence per audit event type, in Danish (or English), for the case timeline, HR's history and audit
log and the PDF reports — so no reader ever sees raw keys such as ``verdict: still_online``.

``sentence(event, names)`` picks the event's formatter; each formatter returns the Danish and the English
sentence, and ``names`` says which language and how to name steps and people. An action without a formatter
gets its plain label, never its details as keys.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.models import AuditEvent
from tracker.textcut import excerpt
from tracker.wording import file_size, local_time
from tracker.workflow.recheck_compare import danish_reason

Pair = tuple[str, str]

STEP_STATES: dict[str, Pair] = {
    "todo": ("Ikke startet", "Not started"), "in_progress": ("I gang", "In progress"), "done": ("Udført", "Done"),
    "skipped": ("Sprunget over", "Skipped"), "not_applicable": ("Ikke relevant", "Not applicable")}
OUTCOMES: dict[str, Pair] = {
    "removed": ("fjernet", "removed"), "restricted": ("begrænset", "restricted"), "refused": ("afvist", "refused"),
    "no_answer": ("intet svar", "no answer"),
    "partly_removed": ("delvist fjernet", "partly removed")}
VERDICTS: dict[str, Pair] = {
    "still_online": ("stadig online", "still online"), "changed": ("ændret", "changed"),
    "removed_pending": ("ser fjernet ud (afventer bekræftelse)", "looks removed (awaiting confirmation)"),
    "removed": ("fjernet — bekræftet", "removed — confirmed"), "unreachable": ("kunne ikke nås", "could not be reached"),
    "uncertain": ("usikkert — en person skal se på det", "uncertain — a person must look at it")}
CAPTURE_STATUSES: dict[str, Pair] = {
    "ok": ("sikret", "secured"), "consent_dismissed": ("sikret efter cookie-dialog", "secured after a cookie dialog"),
    "consent_accepted": ("sikret efter cookie-dialog", "secured after a cookie dialog"),
    "consent_wall": ("cookie-væg, opslaget ikke synligt", "cookie wall, the post not visible"),
    "login_wall": ("login-væg", "login wall"), "navigated_away": ("siden skiftede adresse", "the page moved away"),
    "not_found": ("ikke fundet", "not found"), "blocked_by_policy": ("afvist af sikkerhedsregel", "refused by policy"),
    "truncated": ("afskåret (meget lang side)", "cut off (very long page)"),
    "timed_out": ("tidsgrænse nået", "timed out"), "failed": ("fejl", "failed")}
CLOCKS: dict[str, Pair] = {
    "episode": ("episoden", "the episode"), "absence_start": ("første fraværsdag", "the first day of absence"),
    "knowledge_of_author": ("kendskab til opslaget og ophavsmanden", "knowledge of the post and its author"),
    "injunction_granted": ("fogedforbuddet", "the injunction"),
    "request_sent": ("anmodningen om sletning", "the erasure request"),
    "platform_decision": ("platformens afgørelse", "the platform's decision"),
    "judgment_final": ("den endelige dom", "the final judgment"),
    "investigation_discontinued": ("politiets henlæggelse", "the police dropping the case"),
    "previous_med_evaluation": ("den forrige MED-evaluering", "the previous MED evaluation")}
FACTS: dict[str, Pair] = {
    "author_known": ("Kendes ophavsmanden?", "Is the author known?"),
    "private_information_disclosed": ("Er private oplysninger offentliggjort?", "Was private information published?"),
    "defamatory": ("Er indholdet ærekrænkende?", "Is the content defamatory?")}
LETTERS: dict[str, Pair] = {
    "request_to_author": ("anmodning til ophavsmanden", "request to the author"),
    "dsa_notice": ("anmeldelse til platformen (DSA art. 16)", "notice to the platform (DSA art. 16)"),
    "datatilsynet_complaint": ("klage til Datatilsynet", "complaint to Datatilsynet"),
    "declined_police_report_note": ("notat om fravalgt politianmeldelse", "note on the declined police report"),
    "citizen_channels_letter": ("brev til borgeren om officielle kanaler", "letter to the citizen about official channels"),
    "police_evidence_annex": ("bilag med beviser til politiet", "evidence annex for the police")}
CATEGORIES: dict[str, Pair] = {
    "digital_threat": ("digital trussel", "digital threat"), "digital_bullying": ("digital mobning", "digital bullying"),
    "digital_harassment": ("digital chikane", "digital harassment")}
ROLES: dict[str, Pair] = {
    "employee": ("medarbejder", "employee"), "leader": ("leder", "leader"), "hr": ("HR", "HR"),
    "amr": ("arbejdsmiljørepræsentant", "work-environment representative"), "admin": ("administrator", "administrator")}
BECAUSE: dict[str, Pair] = {
    "capture": ("fordi en sikring af opslaget lykkedes", "because a capture secured the post"),
    "notification": ("fordi lederen fik besked på e-mail", "because the leader was told by e-mail"),
    "leader_opened": ("fordi lederen åbnede sagen", "because the leader opened the case")}


@dataclass(frozen=True)
class Names:
    """The reader's language and how to name steps (``step_label``: id → label) and people (id → name)."""

    lang: str = "da"
    step_label: Callable[[str], str] | None = None
    people: Mapping[int, str] = field(default_factory=dict)

    @property
    def en(self) -> bool:
        return self.lang.startswith("en")

    def pick(self, table: Mapping[str, Pair], code: Any, fallback: str | None = None) -> str:
        pair = table.get(str(code)) if code is not None else None
        if pair is None:
            return fallback if fallback is not None else str(code or "—")
        return pair[1 if self.en else 0]

    def step(self, step_id: Any) -> str:
        if step_id and self.step_label is not None:
            try:
                return self.step_label(str(step_id))
            except Exception:  # noqa: BLE001 - a step removed from the rules since: its id, not an error
                pass
        return str(step_id or "—")

    def person(self, user_id: Any) -> str:
        name = self.people.get(user_id) if isinstance(user_id, int) else None
        return name or (f"bruger nr. {user_id}" if not self.en else f"user no. {user_id}")


# -- small helpers ---------------------------------------------------------------------------------
def when(value: Any, names: Names | None = None) -> str:
    """An ISO time from the details as ``05.12.2026 kl. 11.05`` (Danish time; English ``05.12.2026 at 11:05``);
    as given if unreadable."""
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value or "")
    return local_time(dt, names.lang if names else "da")


def short_hash(value: Any) -> str:
    return f"{str(value)[:12]}…" if value else "—"


def quote(value: Any, limit: int = 120) -> str:
    return f"«{excerpt(' '.join(str(value).split()), limit)}»"


def size(n: Any, names: Names | None = None) -> str:
    """``1,5 MB`` (English ``1.5 MB``); ``?`` if not a byte count."""
    return file_size(n, names.lang if names else "da") if isinstance(n, int) and n >= 0 else "?"


_FORMATTERS: dict[str, Callable[[dict, AuditEvent, Names], Pair]] = {}


def formats(*actions: str):
    def register(fn):
        for action in actions:
            _FORMATTERS[action] = fn
        return fn
    return register


def sentence(event: AuditEvent, names: Names | None = None) -> str:
    """The event said as one sentence in ``names.lang``."""
    names = names or Names()
    fn = _FORMATTERS.get(event.action)
    if fn is None:
        da, en = (f"Hændelse «{event.action}».", f"Event “{event.action}”.")
    else:
        da, en = fn(event.details or {}, event, names)
    return en if names.en else da


def has_sentence(action: str) -> bool:
    return action in _FORMATTERS


# -- the case and its evidence -------------------------------------------------------------------------
#: episodes without a URL (tracker/cases/statement.py KINDS), as the sentences name them
EPISODE_KINDS = {"phone_call": ("et telefonopkald", "a phone call"), "letter": ("et brev", "a letter"),
                 "in_person": ("en episode ansigt til ansigt", "an episode in person"), "email": ("en e-mail", "an e-mail"),
                 "sms": ("en sms", "a text message"), "other": ("en anden slags episode", "another kind of episode")}


@formats("case.create")
def _case_create(d, e, n):
    at = when(d["episode_at"], n) if d.get("episode_at") else None
    da, en = (f"Sagen blev oprettet; episoden fandt sted {at}." if at else "Sagen blev oprettet; episodens tid er ukendt.",
              f"The case was opened; the episode took place on {at}." if at else "The case was opened; the episode time is unknown.")
    if d.get("kind") in EPISODE_KINDS:
        kind_da, kind_en = EPISODE_KINDS[d["kind"]]
        da, en = f"{da} Episoden var {kind_da}.", f"{en} The episode was {kind_en}."
    return da, en


@formats("case.view")
def _case_view(d, e, n):
    via = " via API'et" if d.get("via") == "api" else ""
    return f"Sagen blev åbnet{via}.", f"The case was opened for reading{' via the API' if via else ''}."


@formats("case.history_view")
def _history_view(d, e, n):
    return "Sagens fulde historik blev vist.", "The case's full history was viewed."


@formats("case.list")
def _case_list(d, e, n):
    c = d.get("count", "?")
    return f"Sagslisten blev vist ({c} sager).", f"The case list was viewed ({c} cases)."


@formats("case.search")
def _case_search(d, e, n):
    found = d.get("found")
    terms = [k for k in d if k not in ("found", "after")]
    da_f, en_f = (f"{found} fundet", f"{found} found") if found is not None else ("flere sider", "further pages")
    return (f"Der blev søgt i sagerne med {len(terms)} kriterier ({da_f}).",
            f"Cases were searched with {len(terms)} criteria ({en_f}).")


@formats("case.facts")
def _case_facts(d, e, n):
    changed = d.get("changed") or {}
    yes_no = {True: ("ja", "yes"), False: ("nej", "no"), None: ("ikke vurderet", "not assessed")}
    parts_da = [f"«{FACTS.get(k, (k, k))[0]}» {yes_no.get(v, (v, v))[0]}" for k, v in changed.items()]
    parts_en = [f"“{FACTS.get(k, (k, k))[1]}” {yes_no.get(v, (v, v))[1]}" for k, v in changed.items()]
    return ("Sagens oplysninger blev ændret: " + "; ".join(parts_da) + ".",
            "The case's facts were changed: " + "; ".join(parts_en) + ".")


@formats("case.category")
def _case_category(d, e, n):
    after = n.pick(CATEGORIES, d.get("after"), "ikke vurderet" if not n.en else "not assessed")
    before = n.pick(CATEGORIES, d.get("before"), "ikke vurderet" if not n.en else "not assessed")
    return f"Kategorien blev sat til {after} (før: {before}).", f"The category was set to {after} (before: {before})."


@formats("case.close", "case.reopen")
def _case_close(d, e, n):
    note = quote(d.get("note") or "")
    if e.action == "case.close":
        return f"Sagen blev lukket. Begrundelse: {note}.", f"The case was closed. Reason: {note}."
    return f"Sagen blev genåbnet. Begrundelse: {note}.", f"The case was reopened. Reason: {note}."


@formats("evidence.request")
def _evidence_request(d, e, n):
    if d.get("kind") == "statement":
        return (f"Medarbejderens forklaring blev afgivet og sendt til sikring (bevis nr. {e.object_id}, SHA-256 "
                f"{short_hash(d.get('upload_sha256'))}).",
                f"The employee's statement was given and sent for securing (evidence no. {e.object_id}, SHA-256 "
                f"{short_hash(d.get('upload_sha256'))}).")
    if d.get("url"):
        return (f"Sikring af adressen {d['url']} blev bestilt (bevis nr. {e.object_id}).",
                f"A capture of {d['url']} was requested (evidence no. {e.object_id}).")
    return (f"En uploadet fil blev modtaget til sikring (bevis nr. {e.object_id}, filens SHA-256 "
            f"{short_hash(d.get('upload_sha256'))}).",
            f"An uploaded file was received for securing (evidence no. {e.object_id}, the file's SHA-256 "
            f"{short_hash(d.get('upload_sha256'))}).")


@formats("evidence.captured")
def _evidence_captured(d, e, n):
    status = "" if d.get("status") == "ok" else f" ({n.pick(CAPTURE_STATUSES, d.get('status'))})"
    tsa_da = f" Tidsstemplet af {d['tsa']}." if d.get("tsa") else " Ikke tidsstemplet."
    tsa_en = f" Timestamped by {d['tsa']}." if d.get("tsa") else " Not timestamped."
    worker = d.get("worker")
    fp = str(d.get("fingerprint") or "")[:12] or "—"
    # the fingerprint is the manifest's hash, not the uploaded file's (the request's sentence names that one)
    return (f"Bevis nr. {e.object_id} blev sikret{status}; fingeraftrykket (SHA-256 af manifest.json) begynder med {fp}."
            f"{tsa_da}{f' Arbejdsproces: {worker}.' if worker else ''}",
            f"Evidence no. {e.object_id} was secured{status}; the fingerprint (SHA-256 of manifest.json) begins {fp}."
            f"{tsa_en}{f' Worker: {worker}.' if worker else ''}")


@formats("evidence.timestamped")
def _evidence_timestamped(d, e, n):
    at = when(d.get("gen_time"), n)
    return (f"Bevis nr. {e.object_id} fik et tidsstempel bagefter fra {d.get('tsa') or 'tidsstemplingstjenesten'} "
            f"(tidspunkt {at}).",
            f"Evidence no. {e.object_id} was timestamped afterwards by {d.get('tsa') or 'the TSA'} (time {at}).")


@formats("evidence.failed", "evidence.refused")
def _evidence_failed(d, e, n):
    reason = quote(d.get("reason") or "", 200)
    if e.action == "evidence.refused":
        return (f"Sikring af bevis nr. {e.object_id} blev afvist: {reason}.",
                f"The capture of evidence no. {e.object_id} was refused: {reason}.")
    return (f"Sikring af bevis nr. {e.object_id} mislykkedes: {reason}.",
            f"The capture of evidence no. {e.object_id} failed: {reason}.")


@formats("evidence.retry")
def _evidence_retry(d, e, n):
    reason = quote(d.get("reason") or "", 160)
    return (f"Forsøg nr. {d.get('attempt', '?')} på at sikre bevis nr. {e.object_id} mislykkedes og prøves igen: {reason}.",
            f"Attempt {d.get('attempt', '?')} to capture evidence no. {e.object_id} failed and will be retried: {reason}.")


@formats("artifact.view", "artifact.download")
def _artifact(d, e, n):
    name, ev = d.get("name", "?"), d.get("evidence", "?")
    small_da, small_en = (" som lille billede i sagslisten", " as a thumbnail in the case list") if d.get("thumbnail") \
        else ("", "")
    via_da, via_en = (" via API'et", " via the API") if d.get("via") == "api" else ("", "")
    if e.action == "artifact.view":
        return (f"Filen {name} fra bevis nr. {ev} blev vist{small_da}{via_da}.",
                f"The file {name} of evidence no. {ev} was viewed{small_en}{via_en}.")
    return (f"Filen {name} fra bevis nr. {ev} blev hentet{via_da}.",
            f"The file {name} of evidence no. {ev} was downloaded{via_en}.")


@formats("artifact.integrity_error")
def _integrity_error(d, e, n):
    what = d.get("name") or f"nr. {e.object_id}"
    return (f"Filen {what} bestod ikke kontrollen af sin SHA-256 og blev ikke udleveret: {quote(d.get('error', ''))}.",
            f"The file {what} failed its SHA-256 check and was not handed out: {quote(d.get('error', ''))}.")


@formats("attachment.view", "attachment.download")
def _attachment(d, e, n):
    step = n.step(d.get("step_id"))
    verb = ("vist", "viewed") if e.action == "attachment.view" else ("hentet", "downloaded")
    return (f"Bilag nr. {e.object_id} til trinnet «{step}» blev {verb[0]}.",
            f"Attachment no. {e.object_id} of the step “{step}” was {verb[1]}.")


# -- the leader's workflow ---------------------------------------------------------------------------
@formats("step.state")
def _step_state(d, e, n):
    step = n.step(e.object_id)
    state = n.pick(STEP_STATES, d.get("state"))
    before = n.pick(STEP_STATES, d.get("before")) if d.get("before") else None
    da = f"Trinnet «{step}» blev sat til {state}" + (f" (før: {before})" if before and before != state else "")
    en = f"The step “{step}” was set to {state}" + (f" (before: {before})" if before and before != state else "")
    if d.get("by") == "system":
        da += " af Værn, " + BECAUSE.get(d.get("because"), ("automatisk", ""))[0]
        en += " by Værn, " + BECAUSE.get(d.get("because"), ("", "automatically"))[1]
        if d.get("evidence_id"):
            da, en = da + f" (bevis nr. {d['evidence_id']})", en + f" (evidence no. {d['evidence_id']})"
        if d.get("leader_id"):
            da, en = da + f" ({n.person(d['leader_id'])})", en + f" ({n.person(d['leader_id'])})"
    elif d.get("done_at") and d.get("state") == "done":
        da, en = da + f", udført {when(d['done_at'], n)}", en + f", done {when(d['done_at'], n)}"
    if d.get("reason"):
        da, en = da + f". Begrundelse: {quote(d['reason'])}", en + f". Reason: {quote(d['reason'])}"
    if d.get("note_changed"):
        da, en = da + ". Noten blev opdateret", en + ". The note was updated"
    return da + ".", en + "."


@formats("step.police_report_declined")
def _police_declined(d, e, n):
    note = quote(d.get("note") or "")
    return (f"Medarbejderen ønsker ikke en politianmeldelse; lederens notat: {note}.",
            f"The employee does not want a police report; the leader's note: {note}.")


@formats("step.rung")
def _step_rung(d, e, n):
    step = n.step(e.object_id)
    da, en = [f"Skridtet «{step}» blev registreret"], [f"The rung “{step}” was recorded"]
    if d.get("sent_at"):
        da.append(f"sendt {when(d['sent_at'], n)}")
        en.append(f"sent {when(d['sent_at'], n)}")
    if d.get("channel"):
        da.append(f"via {d['channel']}")
        en.append(f"via {d['channel']}")
    if d.get("platform_ref"):
        da.append(f"reference {d['platform_ref']}")
        en.append(f"reference {d['platform_ref']}")
    if d.get("receipt_at"):
        da.append(f"modtagelse bekræftet {when(d['receipt_at'], n)}")
        en.append(f"receipt confirmed {when(d['receipt_at'], n)}")
    if d.get("decided_at"):
        da.append(f"afgørelse meddelt {when(d['decided_at'], n)}")
        en.append(f"decision told {when(d['decided_at'], n)}")
    outcome = n.pick(OUTCOMES, d.get("outcome")) if d.get("outcome") else None
    da.append(f"udfald: {outcome}" if outcome else "intet udfald endnu")
    en.append(f"outcome: {outcome}" if outcome else "no outcome yet")
    return ", ".join(da) + ".", ", ".join(en) + "."


@formats("step.tdb_lookup")
def _step_tdb_lookup(d, e, n):
    puid, url = quote(d.get("puid") or ""), d.get("url") or "?"
    asked_da = f"Værn søgte i EU's DSA-transparensdatabase ({url}) efter platformens begrundelse for indholdet {puid}"
    asked_en = f"Værn searched the EU DSA Transparency Database ({url}) for the platform's statement of reasons for {puid}"
    if d.get("result") == "match":
        return (f"{asked_da}: en begrundelse blev fundet ({d.get('uuid') or '?'}) og knyttet til trinnet.",
                f"{asked_en}: a statement was found ({d.get('uuid') or '?'}) and attached to the step.")
    if d.get("result") == "no_match":
        return (f"{asked_da}: databasen har ingen begrundelse for dette id.",
                f"{asked_en}: the database has no statement for this id.")
    return (f"{asked_da}: opslaget mislykkedes ({d.get('detail') or '?'}); intet blev knyttet til trinnet.",
            f"{asked_en}: the lookup failed ({d.get('detail') or '?'}); nothing was attached.")


@formats("step.attach")
def _step_attach(d, e, n):
    step = n.step(e.object_id)
    if d.get("evidence_id"):
        return (f"Bevis nr. {d['evidence_id']} blev knyttet til trinnet «{step}».",
                f"Evidence no. {d['evidence_id']} was attached to the step “{step}”.")
    name = d.get("filename") or "?"
    return (f"Filen «{name}» ({size(d.get('size'), n)}) blev knyttet til trinnet «{step}».",
            f"The file “{name}” ({size(d.get('size'), n)}) was attached to the step “{step}”.")


@formats("step.removed_verified")
def _removed_verified(d, e, n):
    step = n.step(d.get("step_id"))
    return (f"Fjernelsen blev bekræftet for skridtet «{step}» af genkontrollens bevis nr. {d.get('evidence_id')}.",
            f"The removal was confirmed for the rung “{step}” by the re-check's evidence no. {d.get('evidence_id')}.")


@formats("clock.set")
def _clock_set(d, e, n):
    clock = n.pick(CLOCKS, e.object_id)
    unknown = "ukendt" if not n.en else "unknown"
    at = when(d["at"], n) if d.get("at") else unknown
    before = when(d["before"], n) if d.get("before") else unknown
    note = f" Note: {quote(d['note'])}." if d.get("note") else ""
    return (f"Tidspunktet for {clock} blev sat til {at} (før: {before}).{note}",
            f"The time of {clock} was set to {at} (before: {before}).{note}")


@formats("recheck.start")
def _recheck_start(d, e, n):
    how = ("efter ønske", "on request") if d.get("on_demand") else ("planlagt", "scheduled")
    return (f"Genkontrol startet ({how[0]}): ny sikring nr. {d.get('evidence_id')} sammenlignes med bevis nr. "
            f"{d.get('baseline_evidence_id')}.",
            f"Re-check started ({how[1]}): new capture no. {d.get('evidence_id')} is compared with evidence no. "
            f"{d.get('baseline_evidence_id')}.")


@formats("recheck.decided")
def _recheck_decided(d, e, n):
    verdict = n.pick(VERDICTS, d.get("verdict"))
    reason, reason_en = "", ""
    if d.get("reason"):  # stored in English; a wording Værn does not know is shown as stored, never guessed
        danish = danish_reason(str(d["reason"]), d.get("reason_code"))
        reason = (f" Grundlag: {quote(danish, 200)}." if danish else
                  f" Grundlag, som gemt (på engelsk): {quote(d['reason'], 200)}.")
        reason_en = f" Basis: {quote(d['reason'], 200)}."
    return (f"Genkontrollen gav: {verdict} (bevis nr. {d.get('evidence_id')}).{reason}",
            f"The re-check found: {verdict} (evidence no. {d.get('evidence_id')}).{reason_en}")


@formats("letter.create")
def _letter_create(d, e, n):
    what = n.pick(LETTERS, d.get("template"))
    step = f" til trinnet «{n.step(d['step'])}»" if d.get("step") else ""
    step_en = f" for the step “{n.step(d['step'])}”" if d.get("step") else ""
    return f"Brevudkast nr. {e.object_id} ({what}) blev oprettet{step}.", \
        f"Draft letter no. {e.object_id} ({what}) was created{step_en}."


@formats("letter.update", "letter.sent", "letter.view", "letter.download")
def _letter(d, e, n):
    verbs = {"letter.update": ("ændret", "edited"), "letter.sent": ("markeret som sendt", "marked as sent"),
             "letter.view": ("vist", "viewed"), "letter.download": ("hentet", "downloaded")}[e.action]
    return f"Brev nr. {e.object_id} blev {verbs[0]}.", f"Letter no. {e.object_id} was {verbs[1]}."


from tracker.oversight import event_text_other  # noqa: E402,F401 - registers the formatters of the other events
