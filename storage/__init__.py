"""Persistence: SQLAlchemy models and sessions, Alembic migrations, the content-addressed blob store.

Knows nothing of the domain's rules (that is tracker/).
"""
