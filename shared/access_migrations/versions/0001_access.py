"""Access: named credentials with scopes (ops and firms' partner keys, in one table every
service reads) and the audit log of admin writes.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

from shared.access_tables import audit_log, credentials

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    credentials.create(op.get_bind())
    audit_log.create(op.get_bind())


def downgrade() -> None:
    audit_log.drop(op.get_bind())
    credentials.drop(op.get_bind())
