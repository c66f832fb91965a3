"""task invite sequence, link-scoped web sessions

Revision ID: 12e2b09e7992
Revises: c155e8d30b1f
Create Date: 2026-11-25 17:17:58.740276
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '12e2b09e7992'
down_revision: str | None = 'c155e8d30b1f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add task.invite_sequence (ICS SEQUENCE) and web_session.scope_task_id (link sessions)."""
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invite_sequence', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope_task_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_web_session_scope_task_id_task'), 'task', ['scope_task_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    """Drop both columns."""
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_web_session_scope_task_id_task'), type_='foreignkey')
        batch_op.drop_column('scope_task_id')

    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_column('invite_sequence')
