"""Værn's section of the municipality's record of processing activities (GDPR art. 30(1)(a)-(g)), in Danish.

``build_record`` puts together what Værn can read for itself — the settings (controller, SSO, S3 object lock,
secure cookies, timestamps, mail, session limits), the rule files in force (recipients come from the checklist
and ladder steps, the platforms from the platform directory, the bodies from redress.toml), the retention rules
in force with their sources, the password hasher and the audit anchor file — with the texts in
``processing_record.toml`` in force (``tracker.workflow.processing_texts``: shipped, or the municipality's copy)
for what code cannot know (purposes, categories). Whatever Værn cannot establish (that backups run, where a
platform processes data) is marked ``confirm`` ("Skal bekræftes af kommunen") until the municipality confirms it
in that file (``[[confirmed]]``: its words are added and the mark goes).
The result is a plain structure; the admin page, the PDF and the Markdown export render it.

Long because the record is one document: each of its seven parts reads the settings or files it rests on,
and they are easier to check against art. 30 side by side.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from storage.blobs import parse_s3_url
from storage.models import Role
from tracker import __version__
from tracker.accounts import passwords
from tracker.accounts.users import password_hash_scheme
from tracker.cases.hold import HOLD_ROLES
from tracker.integrity.integrity import anchor_path, read_anchors
from tracker.workflow.platforms import PlatformDirectory
from tracker.workflow.processing_texts import FILE_NAME as TEXTS_FILE
from tracker.workflow.processing_texts import Texts, load_texts
from tracker.workflow import redress as redress_file
from tracker.workflow.redress import Redress
from tracker.workflow.retention import DEFAULT_PATH as RETENTION_SHIPPED
from tracker.workflow.retention import RetentionRule, RetentionRules
from tracker.workflow.rules import Rules

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime
    from tracker.settings import Settings

#: what a statement Værn cannot establish says
CONFIRM = "Skal bekræftes af kommunen."
#: the roles as the record names them in a sentence
ROLE_NAMES = {Role.employee: "medarbejderen", Role.leader: "en leder", Role.amr: "arbejdsmiljørepræsentanten",
              Role.hr: "HR", Role.admin: "en administrator"}

# -- what the record is made of -----------------------------------------------------------------------
@dataclass(frozen=True)
class LegalSource:
    text: str
    url: str | None
    verified: bool
    checked: str


@dataclass(frozen=True)
class Entry:
    """One statement: ``origin`` says where Værn read it; ``confirm``, what the municipality must confirm."""

    title: str
    text: str
    origin: str
    confirm: str | None = None
    details: tuple[str, ...] = ()
    sources: tuple[LegalSource, ...] = ()
    key: str | None = None  #: the key the municipality confirms it by (processing_texts.CONFIRMABLE)


@dataclass(frozen=True)
class Section:
    letter: str
    heading: str
    legal: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class ProcessingRecord:
    title: str
    controller: str
    intro: str
    generated_at: datetime
    vaern_version: str
    sources: tuple[LegalSource, ...]
    sections: tuple[Section, ...]

    @property
    def to_confirm(self) -> int:
        """How many statements the municipality must confirm."""
        return sum(1 for s in self.sections for e in s.entries if e.confirm)


def build_record(settings: "Settings", rules: Rules, platforms: PlatformDirectory, retention: RetentionRules,
                 redress: Redress, *, texts: Texts | None = None, now: datetime | None = None) -> ProcessingRecord:
    """The record as the configuration and the files in force make it today (reads the anchor file; writes nothing)."""
    texts = texts or load_texts()
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    parts = {
        "a": _controller(settings),
        "b": _texts(texts.purpose),
        "c": _texts(texts.subject, "Kategori af registrerede") + _texts(texts.data, "Kategori af personoplysninger"),
        "d": _recipients(texts.recipient, rules, platforms, redress) + _processors(settings),
        "e": _transfers(settings, platforms),
        "f": _retention(retention, settings),
        "g": _security(settings, texts.role),
    }
    sections = tuple(Section(s.letter, s.heading_da, s.legal_da, tuple(_confirmed(parts[s.letter], texts)))
                     for s in texts.section)
    return ProcessingRecord(title=texts.record.title, controller=settings.controller_name or "[UDFYLD: kommunens navn]",
                            intro=texts.record.intro, generated_at=now, vaern_version=__version__,
                            sources=_sources(texts.record.sources), sections=sections)


def record_for(rt: "Runtime", *, now: datetime | None = None) -> ProcessingRecord:
    """The record of this process: its settings and the rule files it has in force."""
    return build_record(rt.settings, rt.rules, rt.platforms, rt.retention, redress_file.shipped(),
                        texts=rt.processing_texts, now=now)


def _confirmed(entries: list[Entry], texts: Texts) -> list[Entry]:
    """Each statement the municipality confirmed in the texts file: its words added, no longer marked."""
    out = []
    for e in entries:
        c = texts.confirmation(e.key) if e.key else None
        out.append(e if c is None else replace(
            e, confirm=None, details=e.details + (f"Kommunens bekræftelse ({c.confirmed_by}): {c.text}",),
            origin=f"{e.origin}; {TEXTS_FILE} (kommunens bekræftelse)"))
    return out


def _sources(raw) -> tuple[LegalSource, ...]:
    return tuple(LegalSource(s.text, s.url, s.verified, s.checked) for s in raw)


def _setting(name: str) -> str:
    return f"indstillingen VAERN_{name.upper()}"


def _host(url: str | None) -> str:
    return urlsplit(url or "").hostname or str(url)


# -- a: controller ------------------------------------------------------------------------------------
def _controller(st: "Settings") -> list[Entry]:
    def given(title: str, value: str | None, name: str, missing: str) -> Entry:
        if value:
            return Entry(title, value, _setting(name))
        return Entry(title, missing, _setting(name), confirm=f"{CONFIRM} VAERN_{name.upper()} er ikke sat.")

    return [
        given("Dataansvarlig", st.controller_name, "controller_name", "[UDFYLD: kommunens navn]"),
        given("Kontaktoplysninger", st.controller_contact, "controller_contact",
              "[UDFYLD: kommunens adresse, telefon og e-mail]"),
        given("Databeskyttelsesrådgiver (DPO)", st.dpo_contact, "dpo_contact",
              "[UDFYLD: databeskyttelsesrådgiverens navn og kontaktoplysninger]"),
        Entry("Fælles dataansvarlige og repræsentant", "Værn kender ingen fælles dataansvarlige. En repræsentant "
              "(art. 27) er ikke relevant for en dansk kommune.", "Værns indstillinger (intet felt)", confirm=CONFIRM,
              key="joint_controllers"),
    ]


# -- b, c: texts from the data file ---------------------------------------------------------------------
def _texts(items, kind: str = "") -> list[Entry]:
    out = []
    for t in items:
        title = t.title
        details = ("Forekommer muligvis, ikke i alle sager.",) if t.possible else ()
        out.append(Entry(title, t.text, "processing_record.toml" + (f" ({kind})" if kind else ""),
                         confirm=CONFIRM if t.confirm else None, details=details, sources=_sources(t.sources)))
    return out


# -- d: recipients --------------------------------------------------------------------------------------
def _recipients(items, rules: Rules, platforms: PlatformDirectory, redress: Redress) -> list[Entry]:
    by_id = {s.id: s for s in rules.steps}
    out = []
    for r in items:
        steps = [by_id[s] for s in r.steps if s in by_id]
        if not steps:
            out.append(Entry(r.title, r.text, "processing_record.toml; response.toml",
                             details=("Trinnet findes ikke i de regler, kommunen bruger nu (response.toml), så Værn "
                                      "foreslår ikke denne videregivelse.",)))
            continue
        details = [f"Trin: {', '.join(f'»{s.label_da}«' for s in steps)} (response.toml)."]
        if r.lists == "platforms":
            names = [p.name for p in platforms.platforms if not p.fallback]
            details.append(f"Platforme i platformsoversigten: {', '.join(names)}; desuden enhver anden hjemmeside "
                           "eller hostingvirksomhed (platforms.toml).")
        elif r.lists == "bodies":
            names = [b.name for b in redress.bodies]
            details.append("Organer i redress.toml: " + (", ".join(names) if names else "ingen") + ".")
        out.append(Entry(r.title, r.text, "processing_record.toml; response.toml" +
                         ("; platforms.toml" if r.lists == "platforms" else "; redress.toml" if r.lists else ""),
                         details=tuple(details)))
    return out


def _processors(st: "Settings") -> list[Entry]:
    """Those who process data on the municipality's behalf, as far as the settings show them."""
    out = [Entry("Drift af Værn (databehandler)", "Hvem der driver serveren, databasen og lageret, står ikke i "
                 "Værns indstillinger.", "Værns indstillinger (intet felt)",
                 confirm=f"{CONFIRM} Er driften udliciteret, kræves en databehandleraftale (art. 28).",
                 key="operation")]
    if st.blob_url:
        where = _host(st.s3_endpoint_url) if st.s3_endpoint_url else "Amazon Web Services (S3)"
        out.append(Entry("Objektlager for beviser", f"Beviserne ligger i S3-kompatibelt objektlager hos {where} "
                         f"(bucket {parse_s3_url(st.blob_url)[0]}).", _setting("blob_url") + " og " +
                         _setting("s3_endpoint_url"), confirm=f"{CONFIRM} Databehandleraftale med udbyderen.",
                         key="object_store"))
    if st.smtp_host:
        out.append(Entry("Mailserver", f"Notifikationer sendes gennem {st.smtp_host}; de indeholder kun "
                         "sagsnummeret, en neutral sætning og et link, aldrig navne, adresser på opslag eller "
                         "beskrivelser.", _setting("smtp_host"), confirm=f"{CONFIRM} Hvem driver mailserveren.",
                         key="mail_server"))
    if st.oidc_enabled:
        out.append(Entry("Identitetsudbyder (single sign-on)", f"Login sker hos {_host(st.oidc_issuer)}, som "
                         "modtager brugerens login, men ingen sagsoplysninger.", _setting("oidc_issuer"),
                         confirm=f"{CONFIRM} Databehandleraftale med udbyderen.", key="identity_provider"))
    if st.tsa_url and st.tsa_ca_file:  # without the CA file no request is sent (capture/timestamp.py)
        out.append(Entry("Tidsstempeltjeneste (RFC 3161)", f"{_host(st.tsa_url)} modtager kun en hash-værdi af "
                         "bevisets manifest, ingen personoplysninger.", _setting("tsa_url")))
    if st.dsa_tdb_token:
        out.append(Entry("EU's DSA-transparensdatabase", f"Opslag i {_host(st.dsa_tdb_url)} (Europa-Kommissionen) "
                         "med platformens id for en afgørelse.", _setting("dsa_tdb_token")))
    return out


# -- e: transfers ---------------------------------------------------------------------------------------
def _transfers(st: "Settings", platforms: PlatformDirectory) -> list[Entry]:
    names = [p.name for p in platforms.platforms if not p.fallback]
    out = [Entry("Anmeldelser til platforme", "Når kommunen sender en anmeldelse eller klage til en platform, "
                 "videregives oplysningerne til platformen. Om det er en overførsel til et tredjeland, afhænger af "
                 "platformen: hvor den er etableret, og hvor den behandler oplysningerne. Værns platformsoversigt "
                 "registrerer ikke platformenes land.", "platforms.toml",
                 confirm=f"{CONFIRM} For hver platform, kommunen anmelder til.",
                 details=(f"Platforme i oversigten: {', '.join(names)}.",), key="platform_transfers")]
    if st.blob_url:
        out.append(Entry("Objektlager for beviser", "Hvor bucket'en ligger (region), står ikke i Værns indstillinger "
                         "(den kommer fra AWS_DEFAULT_REGION eller udbyderen).", _setting("blob_url"), confirm=CONFIRM,
                         key="object_store_region"))
    else:
        out.append(Entry("Database og beviser", "Databasen og beviserne ligger på kommunens egne servere (lokal disk "
                         "eller database), hvis serverne står i EU/EØS.", _setting("blob_dir") + " og " +
                         _setting("database_url"), confirm=f"{CONFIRM} Hvor serverne står.", key="server_location"))
    if st.oidc_enabled:
        out.append(Entry("Identitetsudbyder", f"Login sker hos {_host(st.oidc_issuer)}; hvor udbyderen behandler "
                         "oplysningerne, kan Værn ikke se.", _setting("oidc_issuer"), confirm=CONFIRM,
                         key="identity_provider_location"))
    return out


# -- f: retention ---------------------------------------------------------------------------------------
def _keep(rule: RetentionRule) -> str:
    return f"{rule.keep_years} år" if rule.keep_years is not None else f"{rule.keep_days} dage"


def _retention(rr: RetentionRules, st: "Settings") -> list[Entry]:
    whose = "leveret med Værn" if rr.path.resolve() == RETENTION_SHIPPED else "kommunens egen kopi"
    origin = f"{rr.path.name} ({whose})"
    out = []
    for rule in rr.rules:
        state = ("Værn sletter efter reglen (»vaern retention run« og et dagligt job)." if rule.enforced else
                 "Politik, som Værn endnu ikke håndhæver.")
        verified = sum(1 for s in rule.sources if s.verified)
        out.append(Entry(rule.label_da, rule.note_da, origin,
                         confirm=None if rule.enforced else f"{CONFIRM} Hvordan politikken overholdes.",
                         details=(f"Regel {rule.id}: gemmes {_keep(rule)}. {state}",
                                  f"{verified} af {len(rule.sources)} kilder er slået op og læst."),
                         sources=tuple(LegalSource(s.text, s.url, s.verified, s.checked) for s in rule.sources)))
    who = " eller ".join(ROLE_NAMES[r] for r in HOLD_ROLES)
    out.append(Entry("Retligt tilbageholdelse", f"En sag, som {who} har tilbageholdt af retlige grunde (fx en "
                     "retssag), slettes ikke, før tilbageholdelsen er ophævet.", "Værns kode (tracker/cases/hold.py)"))
    if st.blob_url:
        out.append(Entry("Objektlås på beviser", f"Hvert bevis i objektlageret låses i {st.s3_object_lock_days} dage "
                         f"({st.s3_object_lock_mode}) fra det gemmes; det kan ikke slettes før låsen udløber, og Værn "
                         "forlænger låsen, når en sag lukkes.", _setting("s3_object_lock_days")))
    return out


# -- g: security ----------------------------------------------------------------------------------------
def _security(st: "Settings", roles) -> list[Entry]:
    anchors, problems = read_anchors(anchor_path(st))
    last = max((a.anchored_at for a in anchors), default=None)
    out = [
        Entry("Rollebaseret adgang", "Hver bruger har én rolle; adgangen kontrolleres på serveren ved hver side og "
              "hvert API-kald, og en sag, man ikke må se, svarer som om den ikke findes.", "Værns kode (tracker/"
              "accounts/permissions.py)", details=tuple(f"{r.text}" for r in roles)),
        _login(st),
        Entry("Adgangskoder", f"Gemmes kun som hash: {password_hash_scheme()}. Mindst "
              f"{passwords.MIN_LENGTH_PRIVILEGED} tegn for HR og administratorer, {passwords.MIN_LENGTH} for andre; "
              "almindelige og gættelige adgangskoder afvises.", "Værns kode (tracker/accounts/users.py, passwords.py)"),
        Entry("Begrænsning af loginforsøg", f"Højst {_rate(st.login_rate_limit)} login-forsøg fra én adresse; efter "
              f"{st.login_free_attempts} forkerte adgangskoder til én konto venter hvert nyt forsøg længere.",
              _setting("login_rate_limit") + " og " + _setting("login_free_attempts")),
        Entry("Sessioner", f"Et login udløber efter {_num(st.session_idle_hours)} timer uden aktivitet og senest "
              f"{_num(st.session_max_days)} dage efter login.", _setting("session_idle_hours") + " og " +
              _setting("session_max_days")),
        _transport(st),
        Entry("Revisionsspor", "Hver oprettelse, visning, ændring, download og eksport skrives i en hash-kæde (hver "
              "hændelse indeholder den forriges hash), så en ændret, slettet eller indsat hændelse opdages af "
              "»vaern verify«.", "Værns kode (tracker/oversight/audit.py)"),
        Entry("Forankring af revisionssporet", (f"Ankerfilen {anchor_path(st).name} har {len(anchors)} anker/ankre; "
               f"det seneste er fra {last:%d.%m.%Y}." if last else f"Ankerfilen {anchor_path(st).name} har endnu "
               "intet anker (det skrives af »vaern verify« og et dagligt job).") +
              (f" {len(problems)} linje(r) kan ikke læses." if problems else ""),
              "ankerfilen i VAERN_DATA_DIR", confirm=f"{CONFIRM} At ankerfilen kopieres væk fra serveren efter "
              "hver kørsel (docs/deploy.md, afsnit 7).", key="anchor_copies"),
        _timestamps(st),
        _evidence_store(st),
        Entry("Bevisernes integritet", "Hver fil i et bevis har en SHA-256-værdi i et manifest, hvis hash er "
              "bevisets fingeraftryk; »vaern verify« genberegner dem.", "Værns kode (capture/manifest.py)"),
        Entry("Sikring af beviser", "Sider åbnes i en Chromium bag en proxy, der afviser adresser på interne net "
              "(SSRF)" + (f"; {len(st.capture_allowed_hosts.split(','))} adresse(r) er undtaget" if
                          st.capture_allowed_hosts.strip() else "") + ".", _setting("capture_allowed_hosts")),
        Entry("Gemte logins til platforme (optageprofiler)", "Krypteres med Fernet (AES-128-CBC og HMAC-SHA256) under "
              + ("en særskilt nøgle." if st.profile_key else "en nøgle afledt af sessionsnøglen (VAERN_PROFILE_KEY er "
                 "ikke sat)."), _setting("profile_key")),
        Entry("Sikkerhedskopier", "docs/deploy.md, afsnit 7 beskriver sikkerhedskopi af databasen (pg_dump hver nat, "
              "uden for serveren), ankerfilen, indstillingerne og kommunens regelfiler, og en årlig gendannelsesprøve. "
              "Værn kan ikke se, om de bliver taget.", "docs/deploy.md", confirm=f"{CONFIRM} At sikkerhedskopier "
              "tages, opbevares sikkert og gendannes som prøve.", key="backups"),
        Entry("Kryptering af lagrede data", f"Databasen er {_database(st)}. Om disken eller databasen er krypteret, "
              "står ikke i Værns indstillinger.", _setting("database_url"), confirm=CONFIRM,
              key="storage_encryption"),
        Entry("Organisatoriske foranstaltninger", "Instruktion af brugere, tavshedspligt, fratrædelse (deaktivering "
              "af brugere) og kontrol af revisionssporet er kommunens opgave.", "Værns indstillinger (intet felt)",
              confirm=CONFIRM, key="organisational"),
    ]
    return out


#: flask-limiter's units in Danish
_PER = {"second": "sekund", "minute": "minut", "hour": "time", "day": "døgn"}


def _rate(limit: str) -> str:
    """``60 per minute`` (or ``60/minute``) as »60 pr. minut«; anything else as written."""
    count, _sep, unit = limit.replace("/", " per ").partition(" per ")
    unit = unit.strip().removesuffix("s")
    return f"{count.strip()} pr. {_PER[unit]}" if unit in _PER else limit


def _num(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def _database(st: "Settings") -> str:
    url = st.resolved_database_url
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite (en fil i VAERN_DATA_DIR)"


def _login(st: "Settings") -> Entry:
    origin = _setting("oidc_issuer") + " og " + _setting("local_login")
    if st.oidc_enabled:
        roles = (f"roller tildeles ud fra udbyderens »{st.oidc_role_claim}«" if st.oidc_role_map.strip() else
                 "roller tildeles af en administrator i Værn")
        text = (f"Single sign-on med kommunens identitetsudbyder ({_host(st.oidc_issuer)}, OpenID Connect) er slået "
                f"til; {roles}. " +
                ("Login med e-mail og adgangskode er også muligt." if st.local_login else
                 "Login med e-mail og adgangskode er slået fra."))
        return Entry("Login", text, origin, confirm=f"{CONFIRM} Om udbyderen kræver to-faktor-login.",
                     key="login_two_factor")
    return Entry("Login", "Single sign-on er ikke sat op; brugerne logger ind med e-mail og adgangskode i Værn. "
                 "Værn har ikke to-faktor-login.", origin)


def _transport(st: "Settings") -> Entry:
    https = st.base_url.startswith("https://")
    origin = _setting("secure_cookies") + " og " + _setting("base_url")
    if st.secure_cookies:
        text = ("Cookies sendes kun over HTTPS (Secure, HttpOnly, SameSite=Lax), og Værn beder browseren altid bruge "
                "HTTPS (Strict-Transport-Security).")
    else:
        text = ("Secure-cookies og Strict-Transport-Security er slået fra (VAERN_SECURE_COOKIES=false): Værn "
                "forventer ikke at køre bag HTTPS.")
    text += f" Links i mails bruger {'https' if https else 'http'} ({_host(st.base_url)})."
    return Entry("Kryptering under transport (TLS)", text, origin,
                 confirm=f"{CONFIRM} At TLS er sat op foran Værn (fx nginx, docs/deploy.md)" +
                 ("" if st.secure_cookies and https else "; i dag tyder indstillingerne på, at det ikke er.") +
                 ("." if st.secure_cookies and https else ""), key="tls")


def _timestamps(st: "Settings") -> Entry:
    title, origin = "Betroede tidsstempler (RFC 3161)", _setting("tsa_url") + " og " + _setting("tsa_ca_file")
    if st.tsa_url and st.tsa_ca_file:
        return Entry(title, f"Hvert bevis tidsstemples hos {_host(st.tsa_url)} over manifestets SHA-256, og svaret "
                     "kontrolleres mod CA-certifikatet i VAERN_TSA_CA_FILE; mislykkes det, prøver Værn igen senere, "
                     "og sagen viser det.", origin)
    if st.tsa_url:
        return Entry(title, f"VAERN_TSA_URL peger på {_host(st.tsa_url)}, men VAERN_TSA_CA_FILE er ikke sat: Værn kan "
                     "ikke kontrollere svaret og gemmer derfor ingen tidsstempler.", origin,
                     confirm=f"{CONFIRM} Sæt VAERN_TSA_CA_FILE, hvis beviserne skal tidsstemples.", key="timestamps")
    return Entry("Betroede tidsstempler (RFC 3161)", "Ikke sat op: beviserne har ikke et betroet tidsstempel, kun "
                 "Værns eget tidspunkt og hash-kæden.", _setting("tsa_url"))


def _evidence_store(st: "Settings") -> Entry:
    if st.blob_url:
        mode = ("ingen, heller ikke kontoens ejer, kan forkorte eller fjerne låsen" if st.s3_object_lock_mode ==
                "COMPLIANCE" else "en konto med s3:BypassGovernanceRetention kan forkorte eller fjerne låsen")
        return Entry("Beviser i objektlager med objektlås", f"S3 med versionering og objektlås: hvert bevis er låst "
                     f"i {st.s3_object_lock_days} dage i tilstanden {st.s3_object_lock_mode} ({mode}).",
                     _setting("blob_url") + " og " + _setting("s3_object_lock_days"))
    return Entry("Beviser på lokal disk", "Beviserne ligger på serverens disk, adresseret efter deres SHA-256; "
                 "objektlås (S3) er ikke slået til, så den, der har adgang til serveren, kan slette filer (»vaern "
                 "verify« opdager det).", _setting("blob_url"), confirm=f"{CONFIRM} Adgangen til serveren.",
                 key="server_access")
