"""The domain: cases, evidence jobs, audit chain, users and units. No Flask here."""

__version__ = "0.1.0"
