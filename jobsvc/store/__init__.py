"""Persistence: PostgreSQL access, SQL and migrations."""
