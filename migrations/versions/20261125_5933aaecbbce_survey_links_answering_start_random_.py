"""survey links without ids, answering start, random response ids

- ``survey.answering_from``: when the answer tasks went out (the sweep closes no mapping
  before then). Existing surveys: re-runs and closed ones count as started when they
  opened, others when their answer tasks were created (if they were).
- ``survey_invitation.link_hash`` (SHA-256 of the link's secret, unique: links no longer
  carry the invitation id) and ``nonce`` nullable (deleted at close). Existing closed
  mappings lose their nonces now; open ones forget their ``answered`` flags, which are
  written at close from now on.
- ``survey_response.id`` becomes a random text id; existing responses get new ids and
  are rewritten in random order, so neither ids nor row order follow the order of answering.

Downgrade numbers responses 1..n and gives closed mappings' invitations a fresh nonce
(their old links then no longer open). ``survey`` is referenced by other tables, so it is
only ever altered by adding a column (SQLite would have to drop and copy it otherwise).

Revision ID: 5933aaecbbce
Revises: a51936c49e48
Create Date: 2026-11-25 17:35:32.517362
"""

import hashlib
import random
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '5933aaecbbce'
down_revision: str | None = 'a51936c49e48'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SURVEY = sa.table('survey', sa.column('id', sa.Integer), sa.column('status', sa.String))
INVITATION = sa.table('survey_invitation', sa.column('id', sa.Integer),
                      sa.column('survey_id', sa.Integer), sa.column('nonce', sa.String),
                      sa.column('link_hash', sa.String), sa.column('answered', sa.Boolean))


def _responses(id_type) -> sa.TableClause:
    return sa.table('survey_response', sa.column('id', id_type), sa.column('survey_id', sa.Integer),
                    sa.column('group_id', sa.Integer), sa.column('respondent_key', sa.String),
                    sa.column('status', sa.String), sa.column('answers', models.base.JSONDoc()),
                    sa.column('submitted_at', models.base.UTCDateTime()),
                    sa.column('version', sa.Integer))


def _rewrite_responses(table: sa.TableClause, new_ids) -> None:
    """Every response deleted and written again, in random order, under ``new_ids``."""
    bind = op.get_bind()
    rows = [dict(r) for r in bind.execute(sa.select(table)).mappings()]
    random.SystemRandom().shuffle(rows)
    for row, new_id in zip(rows, new_ids(len(rows)), strict=True):
        row['id'] = new_id
    bind.execute(sa.delete(table))
    if rows:
        bind.execute(sa.insert(table), rows)


def upgrade() -> None:
    """Add answering_from and link_hash, loosen nonce, random response ids."""
    postgresql = op.get_bind().dialect.name == 'postgresql'
    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answering_from', models.base.UTCDateTime(timezone=True),
                                      nullable=True))
    op.execute("""
        UPDATE survey SET answering_from = CASE WHEN round > 1 THEN opens_at ELSE (
            SELECT min(t.created_at) FROM task t
            WHERE t.step_id = survey.step_id AND t.phase = 'aktivitet'
              AND t.role IN ('chef', 'ledning') AND t.created_at >= survey.opens_at) END""")
    op.execute("UPDATE survey SET answering_from = opens_at "
               "WHERE answering_from IS NULL AND status = 'closed'")

    with op.batch_alter_table('survey_invitation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_hash', sa.String(length=64), nullable=True))
        batch_op.alter_column('nonce', existing_type=sa.String(length=64), nullable=True)
    bind = op.get_bind()
    closed = {i for (i,) in bind.execute(sa.select(SURVEY.c.id).where(SURVEY.c.status == 'closed'))}
    rows = bind.execute(sa.select(INVITATION.c.id, INVITATION.c.survey_id, INVITATION.c.nonce)).all()
    if rows:
        bind.execute(sa.update(INVITATION).where(INVITATION.c.id == sa.bindparam('iid')).values(
            link_hash=sa.bindparam('hash'), nonce=sa.bindparam('new_nonce')), [
            {'iid': iid, 'hash': hashlib.sha256(nonce.encode()).hexdigest(),
             'new_nonce': None if survey_id in closed else nonce}
            for iid, survey_id, nonce in rows])
    bind.execute(sa.update(INVITATION).where(INVITATION.c.survey_id.not_in(closed) if closed else
                                             sa.true()).values(answered=False))
    with op.batch_alter_table('survey_invitation', schema=None) as batch_op:
        batch_op.alter_column('link_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_survey_invitation_link_hash'), ['link_hash'])

    if postgresql:
        op.execute('ALTER TABLE survey_response ALTER COLUMN id DROP DEFAULT')
        op.execute('ALTER TABLE survey_response ALTER COLUMN id TYPE VARCHAR(32) USING id::text')
        op.execute('DROP SEQUENCE IF EXISTS survey_response_id_seq')
    else:
        with op.batch_alter_table('survey_response', schema=None) as batch_op:
            batch_op.alter_column('id', existing_type=sa.Integer(), type_=sa.String(length=32),
                                  existing_nullable=False)
    _rewrite_responses(_responses(sa.String), lambda n: [secrets.token_hex(16) for _ in range(n)])


def downgrade() -> None:
    """Number responses again, give every invitation a nonce, drop answering_from."""
    postgresql = op.get_bind().dialect.name == 'postgresql'
    _rewrite_responses(_responses(sa.String), lambda n: [str(i) for i in range(1, n + 1)])
    if postgresql:
        op.execute('ALTER TABLE survey_response ALTER COLUMN id TYPE INTEGER USING id::integer')
        op.execute('CREATE SEQUENCE survey_response_id_seq OWNED BY survey_response.id')
        op.execute("ALTER TABLE survey_response "
                   "ALTER COLUMN id SET DEFAULT nextval('survey_response_id_seq')")
        op.execute("SELECT setval('survey_response_id_seq', (SELECT coalesce(max(id), 0) + 1 "
                   "FROM survey_response), false)")
    else:
        with op.batch_alter_table('survey_response', schema=None) as batch_op:
            batch_op.alter_column('id', existing_type=sa.String(length=32), type_=sa.Integer(),
                                  existing_nullable=False)

    bind = op.get_bind()
    missing = [iid for (iid,) in bind.execute(sa.select(INVITATION.c.id).where(INVITATION.c.nonce.is_(None)))]
    if missing:
        bind.execute(sa.update(INVITATION).where(INVITATION.c.id == sa.bindparam('iid'))
                     .values(nonce=sa.bindparam('new_nonce')),
                     [{'iid': iid, 'new_nonce': secrets.token_urlsafe(24)} for iid in missing])
    with op.batch_alter_table('survey_invitation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_survey_invitation_link_hash'), type_='unique')
        batch_op.alter_column('nonce', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('link_hash')

    # Not batch mode: on SQLite that would drop and copy ``survey``, which others reference
    # (SQLite 3.35+ drops a column in place).
    op.execute('ALTER TABLE survey DROP COLUMN answering_from')
