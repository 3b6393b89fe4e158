"""status look-up attempts and blocks

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 06:21:07.440972

A caller who is not a dossier's own phone hears its status only after the last 4 digits of the
owner's citizen id. Each such check is now recorded, and too many failures block the check for
that dossier for a while (intake/status_lookup.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dossier_lookup_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("caller", sa.String(length=20), nullable=False),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossier.id"],
            name=op.f("fk_dossier_lookup_attempt_dossier_id_dossier"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_lookup_attempt")),
    )
    with op.batch_alter_table("dossier_lookup_attempt", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dossier_lookup_attempt_dossier_id_at", ["dossier_id", "at"], unique=False
        )

    op.create_table(
        "dossier_lookup_block",
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossier.id"], name=op.f("fk_dossier_lookup_block_dossier_id_dossier")
        ),
        sa.PrimaryKeyConstraint("dossier_id", name=op.f("pk_dossier_lookup_block")),
    )


def downgrade() -> None:
    op.drop_table("dossier_lookup_block")
    with op.batch_alter_table("dossier_lookup_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_dossier_lookup_attempt_dossier_id_at")
    op.drop_table("dossier_lookup_attempt")
