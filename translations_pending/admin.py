"""Danish for the administration pages (webui/admin.py, webui/templates/admin/*)."""

DA = {
    "Administrator": "Administrator",
    "Rules": "Regler",
    "Platform directory": "Platformskatalog",
    "Letter template": "Brevskabelon",
    "Enter a valid e-mail address.": "Skriv en gyldig e-mailadresse.",
    "A user with this e-mail address exists already.": "Der findes allerede en bruger med denne e-mailadresse.",
    "The password must have at least 10 characters.": "Adgangskoden skal have mindst 10 tegn.",
    "Enter a name (at most 200 characters).": "Skriv et navn (højst 200 tegn).",
    "Choose a role.": "Vælg en rolle.",
    "Employees, leaders and work-environment representatives must belong to a unit.":
        "Medarbejdere, ledere og arbejdsmiljørepræsentanter skal høre til en enhed.",
    "Choose one of the units.": "Vælg en af enhederne.",
    "Værn must keep at least one active administrator. Make someone else an administrator first.":
        "Værn skal have mindst én aktiv administrator. Gør en anden til administrator først.",
    "Enter a unit name (at most 200 characters).": "Skriv enhedens navn (højst 200 tegn).",
    "A unit with this name exists already.": "Der findes allerede en enhed med dette navn.",
    "The user %(name)s is created.": "Brugeren %(name)s er oprettet.",
    "The changes are saved.": "Ændringerne er gemt.",
    "Nothing was changed.": "Intet blev ændret.",
    "The unit %(name)s is created.": "Enheden %(name)s er oprettet.",
    "The unit is renamed.": "Enheden har fået nyt navn.",
    "The file is saved and in use now.": "Filen er gemt og bruges nu.",
    "The shipped file does not fit the other files in use, so nothing was changed: %(error)s":
        "Den leverede fil passer ikke til de andre filer, der er i brug, så intet blev ændret: %(error)s",
    "The shipped file is in use again.": "Den leverede fil bruges igen.",
    "Overview": "Oversigt",
    "Users": "Brugere",
    "Units": "Enheder",
    "Rules and platform directory": "Regler og platformskatalog",
    "Role": "Rolle",
    "HR reads every case and the audit log. Leaders and work-environment representatives read their own "
    "unit's cases. Administrators do not read cases.":
        "HR kan læse alle sager og adgangsloggen. Ledere og arbejdsmiljørepræsentanter kan læse deres egen "
        "enheds sager. Administratorer kan ikke læse sager.",
    "No unit": "Ingen enhed",
    "Required for employees, leaders and work-environment representatives.":
        "Skal udfyldes for medarbejdere, ledere og arbejdsmiljørepræsentanter.",
    "Here you manage who can use Værn, the organisation's units, and the rules and letters Værn works by. "
    "Case content is not shown to administrators.":
        "Her styrer du, hvem der kan bruge Værn, organisationens enheder og de regler og breve, Værn arbejder "
        "efter. Administratorer ser ikke indholdet af sagerne.",
    "%(num)d active users.": "%(num)d aktive brugere.",
    "Create users, change role or unit, reset a password, deactivate someone who has left.":
        "Opret brugere, skift rolle eller enhed, lav en ny adgangskode, deaktivér en, der er stoppet.",
    "%(num)d units.": "%(num)d enheder.",
    "Leaders and work-environment representatives see the cases of their own unit.":
        "Ledere og arbejdsmiljørepræsentanter ser sagerne i deres egen enhed.",
    "%(num)d of the files are the municipality's own versions.": "%(num)d af filerne er kommunens egne versioner.",
    "The checklist, the deadlines, the platforms' reporting channels and the letter templates.":
        "Tjeklisten, fristerne, platformenes anmeldelseskanaler og brevskabelonerne.",
    "New password": "Ny adgangskode",
    "The user is created": "Brugeren er oprettet",
    "The password for %(name)s (%(email)s) is:": "Adgangskoden til %(name)s (%(email)s) er:",
    "It is shown only this once and is not stored anywhere Værn can show it again. Give it to the person in a "
    "safe way, e.g. in person or by phone.":
        "Den vises kun denne ene gang, og Værn kan ikke vise den igen. Giv den til personen på en sikker måde, "
        "fx personligt eller i telefonen.",
    "Back to the users": "Tilbage til brugerne",
    "The file was not saved. Værn found this error:": "Filen blev ikke gemt. Værn fandt denne fejl:",
    "The version in use is unchanged.": "Den version, der er i brug, er uændret.",
    "Kind": "Type",
    "In use": "I brug",
    "Local version, saved %(when)s": "Lokal version, gemt %(when)s",
    "Shipped with Værn": "Leveret med Værn",
    "Go back to the shipped version": "Gå tilbage til den leverede version",
    "The file in use": "Filen, der er i brug",
    "Replace the file": "Erstat filen",
    "Upload a file or edit the text below. Værn checks it with the same rules as at start-up; nothing is saved "
    "if it has an error. The web pages use it at once; separate capture workers (vaern worker) when they are "
    "restarted.":
        "Upload en fil, eller ret teksten herunder. Værn tjekker den efter de samme regler som ved start; intet "
        "gemmes, hvis den har en fejl. Websiderne bruger den med det samme; separate sikringsprocesser "
        "(vaern worker), når de bliver genstartet.",
    "Upload a file (UTF-8 text)": "Upload en fil (UTF-8-tekst)",
    "Or edit the text": "Eller ret teksten",
    "Check and save": "Tjek og gem",
    "Værn ships with files for the response checklist, the deadlines, the platforms' reporting channels and "
    "the letters. The municipality may replace each file with its own version. Værn checks a new version "
    "before it is saved; a file with an error is refused, and the version in use stays.":
        "Værn leveres med filer til tjeklisten, fristerne, platformenes anmeldelseskanaler og brevene. "
        "Kommunen kan erstatte hver fil med sin egen version. Værn tjekker en ny version, før den gemmes; en "
        "fil med fejl bliver afvist, og den version, der er i brug, bliver ved med at gælde.",
    "The web pages use a new version at once. Separate capture workers (vaern worker) use it when they are "
    "restarted.":
        "Websiderne bruger en ny version med det samme. Separate sikringsprocesser (vaern worker) bruger den, "
        "når de bliver genstartet.",
    "Local version": "Lokal version",
    "Rename unit": "Omdøb enhed",
    "Name of the unit": "Enhedens navn",
    "Active users": "Aktive brugere",
    "Actions": "Handlinger",
    "Rename": "Omdøb",
    "There are no units yet.": "Der er ingen enheder endnu.",
    "Create unit": "Opret enhed",
    "Created": "Oprettet",
    "Name": "Navn",
    "Active (can log in)": "Aktiv (kan logge ind)",
    "Users are deactivated, never deleted: the audit log refers to them.":
        "Brugere bliver deaktiveret, aldrig slettet: adgangsloggen henviser til dem.",
    "Save changes": "Gem ændringer",
    "Værn makes a new password and shows it to you once. The old password stops working at once.":
        "Værn laver en ny adgangskode og viser den til dig én gang. Den gamle adgangskode holder op med at virke "
        "med det samme.",
    "Make a new password": "Lav en ny adgangskode",
    "Create user": "Opret bruger",
    "Initial password (optional)": "Første adgangskode (valgfri)",
    "Leave it empty and Værn makes a password, which is shown to you once. At least 10 characters if you "
    "choose one.":
        "Lad feltet stå tomt, så laver Værn en adgangskode, som vises til dig én gang. Mindst 10 tegn, hvis du "
        "selv vælger en.",
    "All units": "Alle enheder",
    "All roles": "Alle roller",
    "Active": "Aktiv",
    "Deactivated": "Deaktiveret",
    "All": "Alle",
    "Show": "Vis",
    "%(num)d users found.": "%(num)d brugere fundet.",
    "Pages": "Sider",
    "Page %(page)d of %(pages)d": "Side %(page)d af %(pages)d",
    "Previous page": "Forrige side",
    "Next page": "Næste side",
}
