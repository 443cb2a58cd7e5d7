"""The sentences of events around the cases: offenders, exports and reports, logins, users, rules, statistics,
integrity checks and HR's own reading. Registered with ``tracker.oversight.event_text`` on import."""
from __future__ import annotations

from tracker.oversight.event_text import ROLES, VERDICTS, formats, quote, short_hash, size


@formats("offender.create", "offender.suggested", "offender.linked")
def _offender(d, e, n):
    who = f"{d.get('handle') or '?'} ({d.get('platform') or '?'})"
    if e.action == "offender.create":
        return f"Mulig krænker {who} blev registreret.", f"Possible offender {who} was registered."
    if e.action == "offender.suggested":
        return (f"Værn foreslog {who} som mulig krænker ud fra bevis nr. {d.get('evidence_id')}.",
                f"Værn suggested {who} as possible offender from evidence no. {d.get('evidence_id')}.")
    return f"Mulig krænker {who} blev knyttet til sagen.", f"Possible offender {who} was linked to the case."


@formats("offender.confirmed", "offender.dismissed")
def _offender_decided(d, e, n):
    if e.action == "offender.confirmed":
        return (f"Forslaget om krænker nr. {e.object_id} blev bekræftet.",
                f"The suggested offender no. {e.object_id} was confirmed.")
    return (f"Forslaget om krænker nr. {e.object_id} blev afvist.",
            f"The suggested offender no. {e.object_id} was dismissed.")


@formats("offender.update")
def _offender_update(d, e, n):
    if d.get("kind"):
        return (f"Krænker nr. {e.object_id} blev beskrevet som typen «{d['kind']}».",
                f"Offender no. {e.object_id} was described as type “{d['kind']}”.")
    return f"Oplysningerne om krænker nr. {e.object_id} blev opdateret.", f"Offender no. {e.object_id} was updated."


@formats("offender.view", "offender.list")
def _offender_view(d, e, n):
    if e.action == "offender.view":
        return (f"Krænker nr. {e.object_id} blev vist ({d.get('cases_shown', '?')} sager).",
                f"Offender no. {e.object_id} was viewed ({d.get('cases_shown', '?')} cases).")
    return "Listen over krænkere blev vist.", "The offender list was viewed."


@formats("package.export")
def _package(d, e, n):
    via = {"web": ("i browseren", "in the browser"), "cli": ("på kommandolinjen", "on the command line")}.get(
        d.get("via"), ("", ""))
    return (f"Eksportpakken {d.get('filename') or ''} blev dannet {via[0]} ({d.get('files', '?')} filer, "
            f"{size(d.get('size'), n)}; SHA-256 {short_hash(d.get('sha256'))}).",
            f"The export package {d.get('filename') or ''} was made {via[1]} ({d.get('files', '?')} files, "
            f"{size(d.get('size'), n)}; SHA-256 {short_hash(d.get('sha256'))}).")


@formats("package.export_failed")
def _package_failed(d, e, n):
    return (f"Eksportpakken kunne ikke dannes: {quote(d.get('error', ''))}.",
            f"The export package could not be made: {quote(d.get('error', ''))}.")


@formats("report.download")
def _report(d, e, n):
    kind = {"case": ("Sagsrapporten", "The case report")}.get(d.get("report"), ("Bevisrapporten", "The evidence report"))
    return (f"{kind[0]} (PDF) blev hentet ({size(d.get('size'), n)}; SHA-256 {short_hash(d.get('sha256'))}).",
            f"{kind[1]} (PDF) was downloaded ({size(d.get('size'), n)}; SHA-256 {short_hash(d.get('sha256'))}).")


@formats("auth.login", "auth.logout", "auth.login_failed")
def _auth(d, e, n):
    if e.action == "auth.login" and d.get("via") == "sso":
        return "Logget ind med kommunens konto (single sign-on).", "Logged in with the municipality account (single sign-on)."
    if e.action == "auth.login":
        return "Logget ind.", "Logged in."
    if e.action == "auth.logout":
        return "Logget ud.", "Logged out."
    return (f"Mislykket login med e-mailadressen {d.get('email') or '?'}.",
            f"Failed login with the e-mail address {d.get('email') or '?'}.")


#: why a sign-in with the municipality account was refused (tracker.accounts.sso)
_SSO_REFUSALS = {
    "no_role": ("kontoen har ingen rolle i Værn", "the account has no role in Værn"),
    "unit_missing": ("rollen peger på en enhed, Værn ikke har", "the role names a unit Værn does not have"),
    "email_taken": ("en anden konto i Værn har e-mailadressen", "another account in Værn has the e-mail address"),
    "no_email": ("udbyderen sendte ingen e-mailadresse", "the provider sent no e-mail address"),
    "inactive": ("kontoen i Værn er deaktiveret", "the account in Værn is deactivated"),
}


@formats("auth.sso_refused", "auth.sso_failed")
def _sso(d, e, n):
    if e.action == "auth.sso_refused":
        why = _SSO_REFUSALS.get(d.get("reason"), (d.get("reason") or "?", d.get("reason") or "?"))
        who = d.get("email") or d.get("subject") or "?"
        return (f"Log ind med kommunens konto blev afvist for {who}: {why[0]}.",
                f"Sign-in with the municipality account was refused for {who}: {why[1]}.")
    return (f"Log ind med kommunens konto mislykkedes: {quote(d.get('reason', ''))}.",
            f"Sign-in with the municipality account failed: {quote(d.get('reason', ''))}.")


@formats("token.create", "token.revoke")
def _token(d, e, n):
    name = f" «{d['name']}»" if d.get("name") else ""
    verb = ("oprettet", "created") if e.action == "token.create" else ("tilbagekaldt", "revoked")
    return (f"API-nøgle nr. {e.object_id}{name} til {n.person(d.get('user_id'))} blev {verb[0]}.",
            f"API token no. {e.object_id}{name} for {n.person(d.get('user_id'))} was {verb[1]}.")


@formats("unit.create", "unit.rename")
def _unit(d, e, n):
    if e.action == "unit.create":
        return f"Enheden «{d.get('name')}» blev oprettet.", f"The unit “{d.get('name')}” was created."
    before, after = ((d.get("changes") or {}).get("name") or [None, None])[:2]
    return (f"Enheden «{before}» blev omdøbt til «{after}».", f"The unit “{before}” was renamed “{after}”.")


@formats("user.create", "user.update", "user.password_reset")
def _user(d, e, n):
    email = d.get("email") or f"nr. {e.object_id}"
    if e.action == "user.create":
        role = n.pick(ROLES, d.get("role"))
        unit = f", {d['unit']}" if d.get("unit") else ""
        if d.get("via") == "sso":
            return (f"Brugeren {email} blev oprettet ved log ind med kommunens konto ({role}{unit}).",
                    f"The user {email} was created at sign-in with the municipality account ({role}{unit}).")
        return f"Brugeren {email} blev oprettet ({role}{unit}).", f"The user {email} was created ({role}{unit})."
    if e.action == "user.password_reset":
        return f"Adgangskoden til {email} blev nulstillet.", f"The password of {email} was reset."
    fields = ", ".join(sorted(d.get("changes") or {})) or "—"
    if d.get("via") == "sso":
        return (f"Brugeren {email} blev ændret ved log ind med kommunens konto ({fields}).",
                f"The user {email} was changed at sign-in with the municipality account ({fields}).")
    return f"Brugeren {email} blev ændret ({fields}).", f"The user {email} was changed ({fields})."


@formats("rules.save", "rules.revert")
def _rules(d, e, n):
    if e.action == "rules.save":
        return (f"Regelfilen {e.object_id} blev gemt i en lokal udgave.",
                f"The rules file {e.object_id} was saved as a local version.")
    return (f"Regelfilen {e.object_id} blev sat tilbage til den udgave, Værn leveres med.",
            f"The rules file {e.object_id} was reverted to the shipped version.")


@formats("stats.view", "stats.export")
def _stats(d, e, n):
    scope = ("hele organisationen", "the whole organisation") if d.get("scope") == "all" else ("én enhed", "one unit")
    if e.action == "stats.view":
        return (f"Statistikken for {e.object_id} blev vist ({scope[0]}).",
                f"The statistics for {e.object_id} were viewed ({scope[1]}).")
    return (f"Statistikken for {e.object_id} blev hentet som CSV ({scope[0]}).",
            f"The statistics for {e.object_id} were downloaded as CSV ({scope[1]}).")


@formats("integrity.verify")
def _verify(d, e, n):
    blobs = d.get("blobs")
    checked = f"{d.get('events', '?')} hændelser" + (f" og {blobs} filer" if blobs is not None else "")
    checked_en = f"{d.get('events', '?')} events" + (f" and {blobs} files" if blobs is not None else "")
    if d.get("ok"):
        return f"Kontrol af {checked}: alt i orden.", f"Check of {checked_en}: all in order."
    return (f"Kontrol af {checked}: {d.get('problems', '?')} problemer fundet.",
            f"Check of {checked_en}: {d.get('problems', '?')} problems found.")


@formats("audit.view")
def _audit_view(d, e, n):
    filters = [k.removeprefix("filter_") for k in d if k.startswith("filter_")]
    return (f"Revisionsloggen blev vist ({len(filters)} filtre).",
            f"The audit log was viewed ({len(filters)} filters).")


@formats("recheck.leader_decided")
def _recheck_leader(d, e, n):
    verdict = n.pick(VERDICTS, d.get("verdict"))
    return (f"Usikker genkontrol afgjort af lederen: {verdict} (bevis nr. {d.get('evidence_id')} sammenlignet med "
            f"bevis nr. {d.get('baseline_evidence_id')}).",
            f"Uncertain re-check decided by the leader: {verdict} (evidence no. {d.get('evidence_id')} compared "
            f"with evidence no. {d.get('baseline_evidence_id')}).")


@formats("recheck.request")
def _recheck_request(d, e, n):
    count = len(d.get("rechecks") or [])
    return (f"Genkontrol bestilt gennem API'et ({count} adresse(r)).",
            f"Re-check requested through the API ({count} address(es)).")


@formats("case.baseline")
def _case_baseline(d, e, n):
    facts = ", ".join(sorted((d.get("facts_sha256") or {})))
    return (f"Sagens oplysninger blev registreret i revisionsloggen som udgangspunkt ({facts}).",
            f"The case's facts were recorded in the audit log as a baseline ({facts}).")


@formats("export.requested", "export.failed")
def _export_job(d, e, n):
    kinds = {"package": ("eksportpakke", "export package"), "case_report": ("sagsrapport", "case report"),
             "evidence_report": ("bevisrapport", "evidence report")}
    what = kinds.get(d.get("kind"), (str(d.get("kind")), str(d.get("kind"))))
    if e.action == "export.requested":
        return (f"Der blev bestilt en {what[0]} (job nr. {d.get('job')}).",
                f"A {what[1]} was requested (job no. {d.get('job')}).")
    return (f"Job nr. {d.get('job')} ({what[0]}) kunne ikke fuldføres: {quote(d.get('error', ''))}.",
            f"Job no. {d.get('job')} ({what[1]}) could not be completed: {quote(d.get('error', ''))}.")


@formats("auth.password_change_refused")
def _password_refused(d, e, n):
    return ("Et forsøg på at skifte adgangskode blev afvist (forkert nuværende adgangskode).",
            "An attempt to change the password was refused (wrong current password).")


@formats("user.password_change", "user.password_set")
def _password_changed(d, e, n):
    if e.action == "user.password_change":
        return ("Brugeren skiftede sin egen adgangskode; alle andre sessioner blev afsluttet.",
                "The user changed their own password; every other session was ended.")
    return f"Adgangskoden for bruger nr. {e.object_id} blev sat.", f"The password of user no. {e.object_id} was set."


@formats("profile.import", "profile.remove", "profile.logged_out")
def _capture_profile(d, e, n):
    name, account = d.get("name"), f" ({d['account']})" if d.get("account") else ""
    if e.action == "profile.import":
        hosts = ", ".join(d.get("hosts") or [])
        verb = ("erstattet", "replaced") if d.get("replaced") else ("importeret", "imported")
        if d.get("via") == "remote_browser":
            verb = ("erstattet" if d.get("replaced") else "gemt", "replaced" if d.get("replaced") else "saved")
            verb = (f"{verb[0]} fra et login i Værns fjernbrowser", f"{verb[1]} from a login in Værn's remote browser")
        return (f"Capture-profilen «{name}»{account} blev {verb[0]} for {hosts} ({d.get('cookies')} cookies).",
                f"The capture profile “{name}”{account} was {verb[1]} for {hosts} ({d.get('cookies')} cookies).")
    if e.action == "profile.remove":
        return (f"Capture-profilen «{name}»{account} blev fjernet.", f"The capture profile “{name}”{account} was removed.")
    return (f"Capture-profilen «{name}»{account} blev markeret som logget ud: sikring nr. {d.get('evidence_id')} "
            "mødte en login-væg.", f"The capture profile “{name}”{account} was marked logged out: capture no. "
            f"{d.get('evidence_id')} met a login wall.")


@formats("case.hold", "case.release")
def _case_hold(d, e, n):
    if e.action == "case.hold":
        return (f"Sagen blev tilbageholdt af retlige grunde: {quote(d.get('reason'))}. Den slettes ikke, før "
                "tilbageholdelsen ophæves.",
                f"The case was placed under legal hold: {quote(d.get('reason'))}. It is not erased until released.")
    return ("Den retlige tilbageholdelse af sagen blev ophævet; reglerne for opbevaring gælder igen.",
            "The legal hold on the case was released; the retention rules apply again.")


@formats("case.erase", "offender.erase", "offender.suggestion_erase")
def _erased(d, e, n):
    rule = d.get("rule") or "?"
    if e.action == "case.erase":
        locked = len(d.get("blobs_locked") or [])
        return (f"Sagens indhold blev slettet efter opbevaringsreglen «{rule}»: {d.get('evidence', 0)} beviser, "
                f"{d.get('blobs', 0)} filer, {d.get('letters', 0)} breve. Sagsnummer, datoer og status er bevaret "
                "til statistikken." + (f" {locked} filer er stadig låst i lageret og slettes, når låsen udløber."
                                       if locked else ""),
                f"The case's content was erased under retention rule “{rule}”: {d.get('evidence', 0)} evidence, "
                f"{d.get('blobs', 0)} files, {d.get('letters', 0)} letters. Reference, dates and status are kept "
                "for the statistics." + (f" {locked} files are still locked in the store and are deleted when "
                                         "the lock ends." if locked else ""))
    if e.action == "offender.erase":
        return (f"Oplysningerne om krænker nr. {e.object_id} blev slettet efter opbevaringsreglen «{rule}».",
                f"The details of offender no. {e.object_id} were erased under retention rule “{rule}”.")
    return (f"Et ubekræftet forslag om krænker nr. {d.get('offender')} blev slettet efter opbevaringsreglen «{rule}».",
            f"An unconfirmed suggestion of offender no. {d.get('offender')} was erased under retention rule “{rule}”.")


@formats("subject.erase")
def _subject_erase(d, e, n):
    uid = int(e.object_id) if str(e.object_id).isdigit() else e.object_id
    who_da = f"krænker nr. {e.object_id}" if e.object_type == "offender" else n.person(uid)
    who_en = f"offender no. {e.object_id}" if e.object_type == "offender" else n.person(uid)
    erased, kept = len(d.get("erased") or []), len(d.get("kept") or [])
    return (f"Sletning efter anmodning (art. 17) for {who_da}: {erased} ting slettet, {kept} beholdt efter en "
            f"undtagelse. Begrundelse: {quote(d.get('reason'))}.",
            f"Erasure on request (art. 17) for {who_en}: {erased} item(s) erased, {kept} kept under an exception. "
            f"Reason: {quote(d.get('reason'))}.")


@formats("subject.offender_search", "case.subject_search")
def _subject_search(d, e, n):
    if e.action == "case.subject_search":
        return ("Sagen kom med i en søgning efter, hvad Værn har om en person (indsigtsanmodning).",
                "The case was included in a search for what Værn holds about a person (access request).")
    return (f"Søgning efter, hvad Værn har om {quote(d.get('query'))} (indsigtsanmodning): "
            f"{len(d.get('offenders') or [])} krænkere, {len(d.get('cases') or [])} sager"
            + ("; udlevering dannet." if d.get("handout") else "."),
            f"Search for what Værn holds about {quote(d.get('query'))} (access request): "
            f"{len(d.get('offenders') or [])} offenders, {len(d.get('cases') or [])} cases"
            + ("; handout made." if d.get("handout") else "."))


@formats("subject.export_requested", "subject.export_built", "subject.export_downloaded", "subject.export_failed",
         "subject.export")
def _subject_export(d, e, n):
    who = n.person(int(e.object_id)) if str(e.object_id).isdigit() else str(e.object_id)
    job = d.get("job", e.id)
    if e.action == "subject.export_requested":
        return (f"Der blev bestilt en indsigtspakke (art. 15) for {who} (job nr. {job}).",
                f"An access package (art. 15) was requested for {who} (job no. {job}).")
    if e.action == "subject.export_built":
        return (f"Indsigtspakken for {who} blev dannet: {d.get('files', '?')} filer, {size(d.get('size'), n)}, "
                f"SHA-256 {short_hash(d.get('sha256'))} (job nr. {job}).",
                f"The access package for {who} was built: {d.get('files', '?')} files, {size(d.get('size'), n)}, "
                f"SHA-256 {short_hash(d.get('sha256'))} (job no. {job}).")
    if e.action == "subject.export_downloaded":
        return (f"Indsigtspakken for {who} blev hentet, SHA-256 {short_hash(d.get('sha256'))} (job nr. {job}).",
                f"The access package for {who} was downloaded, SHA-256 {short_hash(d.get('sha256'))} (job no. {job}).")
    if e.action == "subject.export_failed":
        return (f"Indsigtspakken for {who} kunne ikke dannes (job nr. {job}): {quote(d.get('error', ''))}.",
                f"The access package for {who} could not be built (job no. {job}): {quote(d.get('error', ''))}.")
    return (f"Indsigtspakken for {who} blev dannet fra kommandolinjen: {d.get('files', '?')} filer, "
            f"{size(d.get('size'), n)}, SHA-256 {short_hash(d.get('sha256'))}.",
            f"The access package for {who} was built at the command line: {d.get('files', '?')} files, "
            f"{size(d.get('size'), n)}, SHA-256 {short_hash(d.get('sha256'))}.")


@formats("case.subject_export")
def _case_subject_export(d, e, n):
    who = n.person(d.get("subject"))
    return (f"Sagen indgik i indsigtspakken (art. 15) til {who}, SHA-256 {short_hash(d.get('sha256'))}.",
            f"The case was part of the access package (art. 15) for {who}, SHA-256 {short_hash(d.get('sha256'))}.")
