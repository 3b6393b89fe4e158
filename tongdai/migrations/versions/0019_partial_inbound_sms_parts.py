"""the parts of citizens' long SMS kept until the message is whole (SMPP)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partial_inbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partial_inbound")),
        sa.UniqueConstraint(
            "provider",
            "sender",
            "recipient",
            "reference",
            "total",
            name=op.f("uq_partial_inbound_provider"),
        ),
    )
    with op.batch_alter_table("partial_inbound", schema=None) as batch_op:
        batch_op.create_index(
            "ix_partial_inbound_handled_at_first_at", ["handled_at", "first_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("partial_inbound", schema=None) as batch_op:
        batch_op.drop_index("ix_partial_inbound_handled_at_first_at")
    op.drop_table("partial_inbound")
