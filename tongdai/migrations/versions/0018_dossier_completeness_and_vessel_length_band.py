"""dossier completeness (completed at, completeness deadline, alert) and the vessel's length band

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 11:45:00

Dossiers submitted before this revision had their due date fixed at the call: they count as
complete from their reception, so their dates do not move.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("completeness_due", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("completeness_alerted_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_dossier_completeness_due_id", ["completeness_due", "id"], unique=False
        )
    with op.batch_alter_table("vessel", schema=None) as batch_op:
        batch_op.add_column(sa.Column("length_band", sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE dossier SET completed_at = received_at"
        " WHERE received_at IS NOT NULL AND due_date IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("vessel", schema=None) as batch_op:
        batch_op.drop_column("length_band")
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.drop_index("ix_dossier_completeness_due_id")
        batch_op.drop_column("completeness_alerted_at")
        batch_op.drop_column("completeness_due")
        batch_op.drop_column("completed_at")
