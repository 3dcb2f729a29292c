"""Alembic environment: runs this service's migrations in its own schema."""

from shared.migrations import run_env

run_env()
