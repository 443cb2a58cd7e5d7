"""Danish for the offender and near-duplicate pages (helper "offenders"); merged into webui/translations by the lead."""

DA = {
    # the case page: who is behind it
    "Who is behind it": "Hvem står bag",
    "Suggested by Værn from the author of the captured post. The unit's leader confirms or dismisses it.":
        "Foreslået af Værn ud fra afsenderen af det sikrede opslag. Enhedens leder bekræfter eller afviser forslaget.",
    "Name shown on the profile": "Navn på profilen",
    "Profile address": "Profilens adresse",
    "Type": "Type",
    "This profile has not been seen in other cases.": "Profilen er ikke set i andre sager.",
    "This profile has also been seen in 1 other case.": "Denne profil er også set i 1 anden sag.",
    "This profile has also been seen in %(num)d other cases.": "Denne profil er også set i %(num)d andre sager.",
    "%(shown)d shown – you do not have access to the rest": "%(shown)d vises – du har ikke adgang til resten",
    "you do not have access to it": "du har ikke adgang til den",
    "you do not have access to them": "du har ikke adgang til dem",
    "A profile that comes back in several cases is a sign that it is not personal. According to the guideline it "
    "usually stops after 2–3 weeks.":
        "En profil, der går igen i flere sager, er et tegn på, at det ikke er personligt. Ifølge retningslinjen "
        "stopper det som regel efter 2–3 uger.",
    "Confirm @%(handle)s": "Bekræft @%(handle)s",
    "Not this person – dismiss": "Ikke denne person – afvis",
    "Remove from the case": "Fjern fra sagen",
    "Type, name and note": "Type, navn og notat",
    "Type of offender (from the guideline)": "Type af krænker (fra retningslinjen)",
    "Seen by everyone who may see a case with this profile. Write facts, not assessments of the person.":
        "Kan ses af alle, der har adgang til en sag med denne profil. Skriv fakta, ikke vurderinger af personen.",
    "No profile is linked to this case yet. When a captured post names its author, Værn suggests the profile here.":
        "Der er endnu ikke knyttet en profil til sagen. Når et sikret opslag viser, hvem der har skrevet det, "
        "foreslår Værn profilen her.",
    "Dismissed suggestions (%(num)d)": "Afviste forslag (%(num)d)",
    "Confirm after all": "Bekræft alligevel",
    "Add a profile by hand": "Tilføj en profil manuelt",
    "Profile name on the platform (handle)": "Profilnavn på platformen (brugernavn)",
    "For example @jens.hansen. Capital letters and the @ do not matter.":
        "For eksempel @jens.hansen. Store bogstaver og @ er ligegyldige.",
    "Profile address (optional)": "Profilens adresse (valgfri)",
    "Name shown on the profile (optional)": "Navn på profilen (valgfrit)",
    "Add the profile": "Tilføj profilen",
    # the case page: near-duplicate evidence
    "Similar posts in other cases": "Lignende opslag i andre sager",
    "evidence #%(id)d": "bevis #%(id)d",
    "picture difference: pHash %(p)d, dHash %(d)d": "forskel i billedet: pHash %(p)d, dHash %(d)d",
    "The text is identical too: most likely the same post.":
        "Teksten er også den samme: sandsynligvis det samme opslag.",
    "The text differs: it may be another post with the same picture.":
        "Teksten er anderledes: det kan være et andet opslag med det samme billede.",
    "The texts could not be compared.": "Teksterne kunne ikke sammenlignes.",
    "1 similar capture is in a case you do not have access to.":
        "1 lignende sikring findes i en sag, du ikke har adgang til.",
    "%(num)d similar captures are in cases you do not have access to.":
        "%(num)d lignende sikringer findes i sager, du ikke har adgang til.",
    "Compared by the picture of the post alone. The numbers count differing bits of 64: 0 is identical; up to "
    "%(p)d (pHash) and %(d)d (dHash) counts as similar.":
        "Sammenlignet ud fra billedet af selve opslaget. Tallene angiver, hvor mange af 64 bit der er forskellige: "
        "0 er ens; op til %(p)d (pHash) og %(d)d (dHash) regnes som lignende.",
    # the offender pages
    "All offenders": "Alle krænkere",
    "First registered": "Først registreret",
    "added by hand": "tilføjet manuelt",
    "suggested by Værn from a capture": "foreslået af Værn ud fra en sikring",
    "The profile is linked to 1 case.": "Profilen er knyttet til 1 sag.",
    "The profile is linked to %(num)d cases.": "Profilen er knyttet til %(num)d sager.",
    "You have access to %(num)d of them.": "Du har adgang til %(num)d af dem.",
    "Cases with this profile that you have access to": "Sager med denne profil, som du har adgang til",
    "Link": "Tilknytning",
    "Every profile linked to a case in the organisation. A profile that comes back in several cases is a sign "
    "that it is not personal.":
        "Alle profiler, der er knyttet til en sag i organisationen. En profil, der går igen i flere sager, er et "
        "tegn på, at det ikke er personligt.",
    "The profiles linked to your unit's cases. The number of cases counts the whole organisation; you can open "
    "the cases you have access to.":
        "Profiler, der er knyttet til din enheds sager. Antallet af sager tæller hele organisationen; du kan åbne "
        "de sager, du har adgang til.",
    "Profile": "Profil",
    "%(num)d of them you can open": "du kan åbne %(num)d af dem",
    "Pages": "Sider",
    "Previous page": "Forrige side",
    "Page %(page)d of %(pages)d": "Side %(page)d af %(pages)d",
    "Next page": "Næste side",
    "No profiles are linked to cases you have access to.":
        "Der er ingen profiler knyttet til sager, du har adgang til.",
    # offender types (DOMAIN.md "Offender types") and link states
    "Not assessed yet": "Ikke vurderet endnu",
    "The grieving relative": "Den sørgende slægtning",
    "The aggrieved citizen": "Den forurettede borger",
    "The professional querulant": "Den professionelle kværulant",
    "Often in the care sector; publishes personal information about the staff who handled the case.":
        "Ofte på omsorgsområdet; offentliggør personlige oplysninger om de medarbejdere, der har haft sagen.",
    "Had a bad experience and exposes the employee on Facebook or blogs.":
        "Har haft en dårlig oplevelse og udstiller medarbejderen på Facebook eller blogs.",
    "Has no direct interest in the case; runs a public pillory of employees' work.":
        "Har ingen direkte interesse i sagen; driver en offentlig gabestok over medarbejdernes arbejde.",
    "Suggested": "Foreslået",
    "Confirmed": "Bekræftet",
    "Dismissed": "Afvist",
    # messages
    "Write the profile's name on the platform (the handle).": "Skriv profilens navn på platformen (brugernavnet).",
    "The profile address must start with http:// or https://.":
        "Profilens adresse skal begynde med http:// eller https://.",
    "Choose a platform from the list.": "Vælg en platform på listen.",
    "Choose a type from the list.": "Vælg en type på listen.",
    "You can read this case, but only the unit's leader and HR can change who is behind it.":
        "Du kan læse sagen, men kun enhedens leder og HR kan ændre, hvem der står bag.",
    "The profile is added to the case.": "Profilen er tilføjet sagen.",
    "The profile is confirmed.": "Profilen er bekræftet.",
    "The suggestion is dismissed.": "Forslaget er afvist.",
    # for the case timeline, if the lead adds these actions to webui/workflow.py ACTIONS
    "Offender registered": "Krænker registreret",
    "Offender suggested from a capture": "Krænker foreslået ud fra en sikring",
    "Offender confirmed": "Krænker bekræftet",
    "Offender suggestion dismissed": "Forslag om krænker afvist",
    "Offender added by hand": "Krænker tilføjet manuelt",
    "Offender type or note changed": "Krænkerens type eller notat ændret",
}
