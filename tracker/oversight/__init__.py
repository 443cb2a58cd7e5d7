"""HR's view: the audit chain and its history, case search, offenders, near-duplicates, statistics, MED."""
