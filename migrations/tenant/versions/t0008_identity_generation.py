"""Tenant schema: identity generation, raised by every statement that updates or deletes identities.

Event ingest keeps the owners of identities it has looked up in memory (infra.caches.IdentityOwners)
and reads this one number per batch instead of looking a thousand identities up: an owner can only
change by an UPDATE (merge) or DELETE (erasure, a changed email) of its identity row, and each such
statement raises the number in its own transaction, so an unchanged number means unchanged owners.

Revision ID: t0008
Revises: t0007
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0008"
down_revision = "t0007"
branch_labels = None
depends_on = None

# The function resolves the table through the search_path it was created under (the tenant
# schema: migrations run with it set), not the caller's, which never names tenant schemas.
_FUNCTION = """
CREATE FUNCTION raise_identity_generation() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE identity_generation SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "identity_generation",
        sa.Column("id", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_generation")),
    )
    op.execute("INSERT INTO identity_generation (id, n) VALUES (1, 0)")
    op.execute(_FUNCTION)
    # Per statement, not per row: a merge moving many identities raises it once.
    op.execute("CREATE TRIGGER identities_changed AFTER UPDATE OR DELETE OR TRUNCATE ON customer_identities"
               " FOR EACH STATEMENT EXECUTE FUNCTION raise_identity_generation()")


def downgrade() -> None:
    op.execute("DROP TRIGGER identities_changed ON customer_identities")
    op.execute("DROP FUNCTION raise_identity_generation()")
    op.drop_table("identity_generation")
