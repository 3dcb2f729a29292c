"""Ops: no copy of the partner keys (``access.credentials`` is read directly).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("partner_keys", schema="ops")


def downgrade() -> None:
    pass  # the copy refilled from a topic that no longer exists; nothing to restore
