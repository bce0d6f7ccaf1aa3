"""Pages people use all day (issue 19): the race-day desk and the tour's identity.

Reviewed by hand:

* ``shirt_stock``: shirts per size an event has to hand out (unique per event and size);
* ``checkins.proxy_name``/``proxy_nik_hash`` (a race pack collected by a representative:
  the keyed hash of the ID card seen, never the NIK) and ``checkins.shirt_given`` (a size
  swapped at the desk), with an index to count a representative's pickups per event;
* ``events.proxy_limit`` (3, checked 0-50) and ``events.walkup_allowance`` (0);
* ``registrations.proxy_name``/``proxy_phone``: the representative a runner named;
* ``tours.scheme_name``, ``colour``, ``accent_colour``, ``logo``, ``logo_type``.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 22:11:05.246745
"""

import sqlalchemy as sa
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('shirt_stock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('size', sa.String(length=8), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity >= 0', name=op.f('ck_shirt_stock_quantity_positive')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_shirt_stock_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shirt_stock')),
    sa.UniqueConstraint('event_id', 'size', name=op.f('uq_shirt_stock_event_id_size'))
    )
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proxy_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('proxy_nik_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('shirt_given', sa.String(length=8), nullable=True))
        batch_op.create_index('ix_checkins_event_proxy', ['event_id', 'proxy_nik_hash'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proxy_limit', sa.Integer(), server_default='3', nullable=False))
        batch_op.add_column(sa.Column('walkup_allowance', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint('proxy_limit_range', 'proxy_limit BETWEEN 0 AND 50')
        batch_op.create_check_constraint('walkup_allowance_positive', 'walkup_allowance >= 0')

    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proxy_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('proxy_phone', sa.String(length=20), nullable=True))

    with op.batch_alter_table('tours', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scheme_name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('colour', sa.String(length=7), server_default='#0A7A3D', nullable=False))
        batch_op.add_column(sa.Column('accent_colour', sa.String(length=7), server_default='#F2A900', nullable=False))
        batch_op.add_column(sa.Column('logo', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('logo_type', sa.String(length=32), nullable=True))



def downgrade():
    with op.batch_alter_table('tours', schema=None) as batch_op:
        batch_op.drop_column('logo_type')
        batch_op.drop_column('logo')
        batch_op.drop_column('accent_colour')
        batch_op.drop_column('colour')
        batch_op.drop_column('scheme_name')

    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_column('proxy_phone')
        batch_op.drop_column('proxy_name')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint('walkup_allowance_positive', type_='check')
        batch_op.drop_constraint('proxy_limit_range', type_='check')
        batch_op.drop_column('walkup_allowance')
        batch_op.drop_column('proxy_limit')

    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_index('ix_checkins_event_proxy')
        batch_op.drop_column('shirt_given')
        batch_op.drop_column('proxy_nik_hash')
        batch_op.drop_column('proxy_name')

    op.drop_table('shirt_stock')
