"""Cases and their evidence: opening a case from a report, its facts and life, running a capture job's results into rows."""
