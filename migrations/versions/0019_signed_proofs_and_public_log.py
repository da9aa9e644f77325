"""signed proofs: Ed25519 keys, each round's Merkle root and signed statement, the public log

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-02 03:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("valid_from", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", campaign.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_signing_keys_key_id")),
    )
    op.create_table(
        "log_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=120), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_entries")),
        sa.UniqueConstraint("seq", name=op.f("uq_log_entries_seq")),
    )
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_log_entries_kind"), ["kind"], unique=False)
    op.create_table(
        "log_heads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.Integer(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("frontier", sa.Text(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=120), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_heads")),
        sa.UniqueConstraint("tree_size", name=op.f("uq_log_heads_tree_size")),
    )
    # Nullable: rounds delivered before signing began keep only their HMAC seal.
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merkle_root", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("statement", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("signature", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("key_id")
        batch_op.drop_column("signature")
        batch_op.drop_column("statement")
        batch_op.drop_column("merkle_root")
    op.drop_table("log_heads")
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_entries_kind"))
    op.drop_table("log_entries")
    op.drop_table("signing_keys")
