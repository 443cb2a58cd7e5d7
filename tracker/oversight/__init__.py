"""HR and integrity: the audit chain and `vaern verify`, search, offenders, near-duplicates, statistics, MED, history."""
