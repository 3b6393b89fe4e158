"""notice calls: a notice said by phone when SMS cannot reach the citizen

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 12:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = (
    "held",
    "pending",
    "dialing",
    "calling",
    "done",
    "gave_up",
    "not_needed",
    "unknown",
)
OUTCOMES = ("confirmed", "answered", "busy", "no_answer", "failed")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "notice_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=True),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=80), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="noticecallstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(*OUTCOMES, name="noticecalloutcome", native_enum=False, length=16),
            nullable=True,
        ),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_call_id", sa.String(length=64), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossier.id"], name=op.f("fk_notice_call_dossier_id_dossier")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_call_notice_id_notice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_call")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notice_call_dedupe_key")),
    )
    with op.batch_alter_table("notice_call", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_call_dossier_id"), ["dossier_id"])
        batch_op.create_index(batch_op.f("ix_notice_call_notice_id"), ["notice_id"])
        batch_op.create_index(batch_op.f("ix_notice_call_provider_call_id"), ["provider_call_id"])
        batch_op.create_index(
            "ix_notice_call_status_next_attempt_at", ["status", "next_attempt_at"]
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("notice_call", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_call_status_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_notice_call_provider_call_id"))
        batch_op.drop_index(batch_op.f("ix_notice_call_notice_id"))
        batch_op.drop_index(batch_op.f("ix_notice_call_dossier_id"))
    op.drop_table("notice_call")
