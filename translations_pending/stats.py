# Danish for the statistics pages (webui/stats.py, webui/templates/stats/index.html).
# Plural entries (ngettext): key (singular, plural) msgids -> value (Danish singular, Danish plural).
DA = {
    # labels of the statistics
    "The grieving relative": "Den sørgende slægtning",
    "The aggrieved citizen": "Den forurettede borger",
    "The professional querulant": "Den professionelle kværulant",
    "Type not assessed": "Type ikke vurderet",
    "No offender recorded": "Ingen krænker registreret",
    "Reported within 72 hours": "Anmeldt inden for 72 timer",
    "Reported after 72 hours": "Anmeldt efter 72 timer",
    "The employee did not want a report (leader's note)": "Medarbejderen ønskede ikke anmeldelse (lederens notat)",
    "Not reported, and the 72 hours have passed": "Ikke anmeldt, og de 72 timer er gået",
    "Not reported yet, still within 72 hours": "Endnu ikke anmeldt, stadig inden for 72 timer",
    "Step skipped or not applicable": "Trinnet sprunget over eller ikke relevant",
    "Time of the episode unknown": "Tidspunktet for episoden er ukendt",
    "Waiting for an answer": "Venter på svar",
    "Skipped or not applicable": "Sprunget over eller ikke relevant",
    "Uploaded file (no address)": "Uploadet fil (ingen adresse)",
    # headings and charts
    "Cases per month": "Sager pr. måned",
    "Cases per unit": "Sager pr. enhed",
    "Cases per platform": "Sager pr. platform",
    "Cases per category": "Sager pr. kategori",
    "Cases per offender type": "Sager pr. krænkertype",
    "Police report within 72 hours": "Politianmeldelse inden for 72 timer",
    "Takedown outcomes per rung": "Resultat af forsøg på fjernelse, trin for trin",
    "Open overdue steps": "Åbne trin med overskredet frist",
    "Bar chart: %(title)s. The same numbers are in the table.":
        "Søjlediagram: %(title)s. De samme tal står i tabellen.",
    # the page
    "The guideline has MED evaluate the local handling of digital harassment twice a year. These are the numbers for the meeting.":
        "Ifølge retningslinjen evaluerer MED den lokale håndtering af digital chikane to gange om året. Her er tallene til mødet.",
    "You see every unit.": "Du ser alle enheder.",
    "You see your own unit.": "Du ser din egen enhed.",
    "Next MED evaluation": "Næste evaluering i MED",
    "The MED dates in the settings cannot be read. Ask the administrator to check them.":
        "MED-datoerne i indstillingerne kan ikke læses. Bed administratoren om at kontrollere dem.",
    "The one after": "Den næste igen",
    "HR, leaders and work-environment representatives get a reminder by e-mail %(num)d days before.":
        "HR, ledere og arbejdsmiljørepræsentanter får en påmindelse pr. e-mail %(num)d dage før.",
    "Period": "Periode",
    "Cases opened from the first to the last day, both included. Without dates: since the previous MED evaluation.":
        "Sager oprettet fra første til sidste dag, begge dage medregnet. Uden datoer: siden sidste evaluering i MED.",
    "From (date)": "Fra (dato)",
    "To (date)": "Til (dato)",
    "Show statistics": "Vis statistik",
    "Since the previous MED evaluation": "Siden sidste evaluering i MED",
    ("%(num)d case", "%(num)d cases"): ("%(num)d sag", "%(num)d sager"),
    "opened from %(start)s to %(end)s.": "oprettet fra %(start)s til %(end)s.",
    "Download as CSV (spreadsheet)": "Hent som CSV (regneark)",
    "Month": "Måned",
    "The police report should be made within 72 hours of the episode, or the employee may lose compensation from the state (offererstatningsloven § 10).":
        "Politianmeldelsen skal ske inden 72 timer efter episoden, ellers kan medarbejderen miste retten til erstatning fra staten (offererstatningsloven § 10).",
    "%(rate)s %% of the cases whose 72 hours have run out were reported in time.":
        "%(rate)s %% af de sager, hvor de 72 timer er gået, blev anmeldt i tide.",
    "Where the case stands": "Hvor sagen står",
    "Median time from the case was opened to a verified removal: %(span)s (%(num)d cases).":
        "Mediantid fra sagen blev oprettet, til fjernelsen var bekræftet: %(span)s (%(num)d sager).",
    "No removal has been verified by a new capture in the period.":
        "Ingen fjernelse er bekræftet ved en ny sikring i perioden.",
    "Rung": "Trin",
    "All open cases you have access to, whatever the period: steps whose deadline has passed now.":
        "Alle åbne sager, du har adgang til, uanset periode: trin, hvis frist er overskredet nu.",
    "Step": "Trin",
    "Which cases": "Hvilke sager",
    "No open step is overdue.": "Ingen åbne trin har overskredet fristen.",
    "Category": "Kategori",
    "A case counts once for each type among its suggested or confirmed offenders.":
        "En sag tæller én gang for hver type blandt dens foreslåede eller bekræftede krænkere.",
    "Offender type": "Krænkertype",
    # countdowns and durations
    "today": "i dag",
    "tomorrow": "i morgen",
    ("in %(num)d day", "in %(num)d days"): ("om %(num)d dag", "om %(num)d dage"),
    "%(num)s hours": "%(num)s timer",
    "%(num)s days": "%(num)s dage",
    # period errors
    "The period ends before it starts. Check the dates.": "Perioden slutter, før den begynder. Tjek datoerne.",
    "Choose a period of at most ten years.": "Vælg en periode på højst ti år.",
    "The period starts before the year 2000. Check the year.": "Perioden begynder før år 2000. Tjek årstallet.",
    "A date could not be read. Use the date picker, e.g. 15.03.2026.":
        "En dato kunne ikke læses. Brug datovælgeren, f.eks. 15.03.2026.",
    # the CSV
    "statistic": "statistik",
    "key": "nøgle",
    "label": "betegnelse",
    "value": "værdi",
    "From": "Fra",
    "To": "Til",
    "Cases in the period": "Sager i perioden",
    "Share reported within 72 hours (%)": "Andel anmeldt inden for 72 timer (%)",
    "verified by a new capture": "bekræftet ved ny sikring",
    "Cases with a verified removal": "Sager med bekræftet fjernelse",
    "Median hours from the case was opened to verified removal":
        "Mediantid i timer fra sagen blev oprettet, til fjernelsen var bekræftet",
}
