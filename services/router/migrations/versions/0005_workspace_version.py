"""Router: the workspace version, one row that every write to owners (but their open-lead
counts), teams, territories or rule sets replaces in the same transaction (statement
triggers, so no writer can forget it). Router instances cache that workspace and read
only this row per lead.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "router"
# Owners' columns an admin sets; ``open_leads`` (capacity counts) changes with every lead
# and is read fresh, so it does not move the version.
OWNER_COLUMNS = (
    "id, name, role, active, team_id, manager_id, capacity, weight, out_of_office, business_hours"
)
TABLES = ("owners", "teams", "territories", "rulesets")


def upgrade() -> None:
    op.create_table(
        "workspace_version",
        sa.Column("one", sa.Boolean(), primary_key=True, server_default=sa.true()),
        sa.Column(
            "version", sa.Uuid(), nullable=False, server_default=sa.text("gen_random_uuid()")
        ),
        sa.CheckConstraint("one", name="workspace_version_one_row"),
        schema=SCHEMA,
    )
    op.execute(f"INSERT INTO {SCHEMA}.workspace_version DEFAULT VALUES")
    # BEFORE the statement: a writer holds the version row's lock before any row lock of
    # the workspace tables, so two admin transactions cannot deadlock on the two.
    op.execute(
        """
        CREATE FUNCTION router.bump_workspace_version() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE router.workspace_version SET version = gen_random_uuid();
            RETURN NULL;
        END $$
        """
    )
    for table in TABLES:
        updated = f"UPDATE OF {OWNER_COLUMNS}" if table == "owners" else "UPDATE"
        op.execute(
            f"CREATE TRIGGER bump_workspace_version BEFORE INSERT OR {updated} OR DELETE "
            f"OR TRUNCATE ON {SCHEMA}.{table} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {SCHEMA}.bump_workspace_version()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER bump_workspace_version ON {SCHEMA}.{table}")
    op.execute(f"DROP FUNCTION {SCHEMA}.bump_workspace_version()")
    op.drop_table("workspace_version", schema=SCHEMA)
