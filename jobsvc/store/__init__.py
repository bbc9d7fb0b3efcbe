"""Persistence: the storage port (tables and notifications), PostgreSQL behind it, SQL
and migrations."""
