"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('datasets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('split_seed', sa.Integer(), nullable=False),
    sa.Column('split_fractions', sa.JSON(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('parser', sa.String(length=100), nullable=False),
    sa.Column('n_frames', sa.Integer(), nullable=False),
    sa.Column('esml_version', sa.String(length=40), nullable=False),
    sa.Column('ingested', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256')
    )
    op.create_table('structures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('nsites', sa.Integer(), nullable=False),
    sa.Column('nelements', sa.Integer(), nullable=False),
    sa.Column('elements', sa.String(length=400), nullable=False),
    sa.Column('formula_reduced', sa.String(length=200), nullable=False),
    sa.Column('formula_hill', sa.String(length=200), nullable=False),
    sa.Column('formula_anonymous', sa.String(length=200), nullable=False),
    sa.Column('nperiodic', sa.Integer(), nullable=False),
    sa.Column('pbc', sa.Integer(), nullable=False),
    sa.Column('numbers', sa.LargeBinary(), nullable=False),
    sa.Column('positions', sa.LargeBinary(), nullable=False),
    sa.Column('cell', sa.LargeBinary(), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hash')
    )
    with op.batch_alter_table('structures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_structures_formula_anonymous'), ['formula_anonymous'], unique=False)
        batch_op.create_index(batch_op.f('ix_structures_formula_reduced'), ['formula_reduced'], unique=False)
        batch_op.create_index(batch_op.f('ix_structures_nelements'), ['nelements'], unique=False)
        batch_op.create_index(batch_op.f('ix_structures_nperiodic'), ['nperiodic'], unique=False)
        batch_op.create_index(batch_op.f('ix_structures_nsites'), ['nsites'], unique=False)

    op.create_table('calculations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('structure_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('frame', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=100), nullable=False),
    sa.Column('code_version', sa.String(length=100), nullable=True),
    sa.Column('method', sa.String(length=200), nullable=True),
    sa.Column('functional', sa.String(length=100), nullable=True),
    sa.Column('basis', sa.String(length=100), nullable=True),
    sa.Column('dispersion', sa.String(length=40), nullable=True),
    sa.Column('charge', sa.Integer(), nullable=True),
    sa.Column('multiplicity', sa.Integer(), nullable=True),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('energy', sa.Float(), nullable=True),
    sa.Column('band_gap', sa.Float(), nullable=True),
    sa.Column('forces', sa.LargeBinary(), nullable=True),
    sa.Column('stress', sa.LargeBinary(), nullable=True),
    sa.Column('dipole', sa.LargeBinary(), nullable=True),
    sa.Column('charges', sa.LargeBinary(), nullable=True),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('original_units', sa.JSON(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['structure_id'], ['structures.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hash')
    )
    with op.batch_alter_table('calculations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calculations_code'), ['code'], unique=False)
        batch_op.create_index(batch_op.f('ix_calculations_energy'), ['energy'], unique=False)
        batch_op.create_index(batch_op.f('ix_calculations_method'), ['method'], unique=False)
        batch_op.create_index(batch_op.f('ix_calculations_source_id'), ['source_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calculations_structure_id'), ['structure_id'], unique=False)

    op.create_table('structure_elements',
    sa.Column('element', sa.String(length=3), nullable=False),
    sa.Column('structure_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['structure_id'], ['structures.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('element', 'structure_id')
    )
    with op.batch_alter_table('structure_elements', schema=None) as batch_op:
        batch_op.create_index('ix_structure_elements_structure', ['structure_id', 'element'], unique=False)

    op.create_table('dataset_members',
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('calculation_id', sa.Integer(), nullable=False),
    sa.Column('split', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['calculation_id'], ['calculations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'calculation_id')
    )
    with op.batch_alter_table('dataset_members', schema=None) as batch_op:
        batch_op.create_index('ix_dataset_members_calculation', ['calculation_id'], unique=False)
        batch_op.create_index('ix_dataset_members_split', ['dataset_id', 'split'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('dataset_members', schema=None) as batch_op:
        batch_op.drop_index('ix_dataset_members_split')
        batch_op.drop_index('ix_dataset_members_calculation')

    op.drop_table('dataset_members')
    with op.batch_alter_table('structure_elements', schema=None) as batch_op:
        batch_op.drop_index('ix_structure_elements_structure')

    op.drop_table('structure_elements')
    with op.batch_alter_table('calculations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calculations_structure_id'))
        batch_op.drop_index(batch_op.f('ix_calculations_source_id'))
        batch_op.drop_index(batch_op.f('ix_calculations_method'))
        batch_op.drop_index(batch_op.f('ix_calculations_energy'))
        batch_op.drop_index(batch_op.f('ix_calculations_code'))

    op.drop_table('calculations')
    with op.batch_alter_table('structures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_structures_nsites'))
        batch_op.drop_index(batch_op.f('ix_structures_nperiodic'))
        batch_op.drop_index(batch_op.f('ix_structures_nelements'))
        batch_op.drop_index(batch_op.f('ix_structures_formula_reduced'))
        batch_op.drop_index(batch_op.f('ix_structures_formula_anonymous'))

    op.drop_table('structures')
    op.drop_table('sources')
    op.drop_table('datasets')
