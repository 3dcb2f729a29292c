"""Alembic environment: the ``access`` schema's migrations (credentials, audit log)."""

from shared.migrations import run_env

run_env()
