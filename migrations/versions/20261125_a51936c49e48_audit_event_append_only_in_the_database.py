"""audit_event is append-only in the database too (triggers refuse UPDATE and DELETE)

The ORM already refuses to change or delete an audit event; these triggers hold the
same line for anything that reaches the database another way (Core statements, a
console). Emptying the table for tests (TRUNCATE on PostgreSQL; dropping and
recreating the triggers around a DELETE on SQLite) stays possible for the owner.

Revision ID: a51936c49e48
Revises: 12e2b09e7992
Create Date: 2026-11-25 17:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a51936c49e48"
down_revision: str | None = "12e2b09e7992"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "audit events are append-only"


def upgrade() -> None:
    """Create the triggers."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
            END $$""")
        op.execute("""
            CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
            FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""")
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event
            BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""")


def downgrade() -> None:
    """Drop the triggers."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION audit_event_append_only()")
        return
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER audit_event_no_{verb}")
