"""simulation run progress (chefoskop simulate --resume)

Revision ID: fa616cc6cb71
Revises: c9f5edf44504
Create Date: 2026-11-25 14:09:55.456852
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'fa616cc6cb71'
down_revision: str | None = 'c9f5edf44504'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create simulation_run: a simulation's configuration and progress."""
    op.create_table('simulation_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('config', models.base.JSONDoc(), nullable=False),
    sa.Column('organisation_ids', models.base.JSONDoc(), nullable=False),
    sa.Column('process_ids', models.base.JSONDoc(), nullable=False),
    sa.Column('today', sa.Date(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('starts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_simulation_run'))
    )
    with op.batch_alter_table('simulation_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_simulation_run_status'), ['status'], unique=False)



def downgrade() -> None:
    """Drop simulation_run."""
    with op.batch_alter_table('simulation_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_simulation_run_status'))

    op.drop_table('simulation_run')
