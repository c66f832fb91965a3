"""task (step_id, status) index: the engine's "is work of this step still open" check

Revision ID: c155e8d30b1f
Revises: fa616cc6cb71
Create Date: 2026-11-25 14:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c155e8d30b1f"
down_revision: str | None = "fa616cc6cb71"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index task by (step_id, status)."""
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index("ix_task_step_status", ["step_id", "status"], unique=False)


def downgrade() -> None:
    """Drop the (step_id, status) index of task."""
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index("ix_task_step_status")
