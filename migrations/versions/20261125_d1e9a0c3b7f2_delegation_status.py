"""delegation status (active, revoked, expired)

Revision ID: d1e9a0c3b7f2
Revises: 1fec57559121
Create Date: 2026-11-25 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d1e9a0c3b7f2"
down_revision: str | None = "1fec57559121"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add delegation.status, filled from revoked_at for existing rows."""
    with op.batch_alter_table("delegation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=False,
                                      server_default="active"))
        batch_op.create_index(batch_op.f("ix_delegation_status"), ["status"], unique=False)
    op.execute("UPDATE delegation SET status = 'revoked' WHERE revoked_at IS NOT NULL")
    with op.batch_alter_table("delegation", schema=None) as batch_op:
        batch_op.alter_column("status", server_default=None)


def downgrade() -> None:
    """Drop delegation.status."""
    with op.batch_alter_table("delegation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegation_status"))
        batch_op.drop_column("status")
