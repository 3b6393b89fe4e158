"""append-only event tables, enforced by PostgreSQL

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 09:10:00

Dossier events (the legal history of a dossier) and audit events (who saw or changed personal
data) were append-only only through the ORM; a hand-written UPDATE or DELETE, in the code or in a
psql session, could still rewrite them. A trigger now refuses both on PostgreSQL. SQLite, the
laptop default, keeps the ORM guard only.
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("dossier_event", "audit_event")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION refuse_append_only_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% rows are append-only: % of row % refused',
                TG_TABLE_NAME, lower(TG_OP), OLD.id
                USING ERRCODE = 'restrict_violation';
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.execute("DROP FUNCTION refuse_append_only_change()")
