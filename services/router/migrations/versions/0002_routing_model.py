"""Router: the full routing model - account hierarchy, territory and segment, customer
flag, account manager; owners' team, manager, capacity, weight, out-of-office; teams,
territories, round-robin counters, rule sets, and the leads kept for re-routing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "router"


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("queue", sa.String(100)),
        schema=SCHEMA,
    )
    op.create_table(
        "territories",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("countries", postgresql.ARRAY(sa.String(2)), nullable=False, server_default="{}"),
        sa.Column("regions", postgresql.ARRAY(sa.String(100)), nullable=False, server_default="{}"),
        sa.Column("states", postgresql.ARRAY(sa.String(100)), nullable=False, server_default="{}"),
        schema=SCHEMA,
    )
    for column in (
        sa.Column("team_id", sa.String(100)),
        sa.Column("manager_id", sa.String(100)),
        sa.Column("capacity", sa.Integer()),
        sa.Column("weight", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("out_of_office", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("open_leads", sa.Integer(), nullable=False, server_default="0"),
    ):
        op.add_column("owners", column, schema=SCHEMA)
    # Accounts are bulk-loaded by the million: an unknown owner is a per-row error the
    # loader reports, not a foreign-key failure that would sink a whole batch.
    op.drop_constraint("accounts_owner_id_fkey", "accounts", schema=SCHEMA, type_="foreignkey")
    account_columns: tuple[sa.Column[Any], ...] = (
        sa.Column("parent_id", sa.String(100)),
        sa.Column("customer", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("account_manager_id", sa.String(100)),
        sa.Column("country", sa.String(2)),
        sa.Column("region", sa.String(100)),
        sa.Column("state", sa.String(100)),
        sa.Column("employees", sa.Integer()),
        sa.Column("industry", sa.String(100)),
        sa.Column("firm_cross_sell", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("name_block", sa.String(8), nullable=False, server_default=""),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    for account_column in account_columns:
        op.add_column("accounts", account_column, schema=SCHEMA)
    op.create_index("ix_router_accounts_name_block", "accounts", ["name_block"], schema=SCHEMA)
    op.create_index("ix_router_accounts_parent", "accounts", ["parent_id"], schema=SCHEMA)
    op.create_table(
        "round_robin",
        sa.Column("team_id", sa.String(100), primary_key=True),
        sa.Column("owner_id", sa.String(100), primary_key=True),
        sa.Column("counter", sa.BigInteger(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.create_table(
        "rulesets",
        sa.Column("version", sa.String(100), primary_key=True),
        sa.Column("body", postgresql.JSONB(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    op.create_index(
        "ux_router_rulesets_active",
        "rulesets",
        ["active"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "leads",
        sa.Column("lead_id", sa.Uuid(), primary_key=True),
        sa.Column("received", postgresql.JSONB(), nullable=False),
        sa.Column(
            "rejected_by", postgresql.ARRAY(sa.String(100)), nullable=False, server_default="{}"
        ),
        schema=SCHEMA,
    )
    op.add_column("routing_decisions", sa.Column("team_id", sa.String(100)), schema=SCHEMA)
    op.add_column("routing_decisions", sa.Column("rule", sa.String(100)), schema=SCHEMA)
    op.create_index(
        "ix_router_decisions_account", "routing_decisions", ["account_id"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_router_decisions_account", "routing_decisions", schema=SCHEMA)
    op.drop_column("routing_decisions", "rule", schema=SCHEMA)
    op.drop_column("routing_decisions", "team_id", schema=SCHEMA)
    op.drop_table("leads", schema=SCHEMA)
    op.drop_table("rulesets", schema=SCHEMA)
    op.drop_table("round_robin", schema=SCHEMA)
    op.drop_index("ix_router_accounts_parent", "accounts", schema=SCHEMA)
    op.drop_index("ix_router_accounts_name_block", "accounts", schema=SCHEMA)
    for name in (
        "updated_at", "name_block", "firm_cross_sell", "industry", "employees", "state",
        "region", "country", "account_manager_id", "customer", "parent_id",
    ):  # fmt: skip
        op.drop_column("accounts", name, schema=SCHEMA)
    op.create_foreign_key(
        "accounts_owner_id_fkey",
        "accounts",
        "owners",
        ["owner_id"],
        ["id"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
    )
    for name in ("open_leads", "out_of_office", "weight", "capacity", "manager_id", "team_id"):
        op.drop_column("owners", name, schema=SCHEMA)
    op.drop_table("territories", schema=SCHEMA)
    op.drop_table("teams", schema=SCHEMA)
