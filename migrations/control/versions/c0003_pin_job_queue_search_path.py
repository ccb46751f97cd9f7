"""Pin procrastinate's functions to schema `control`.

Revision ID: c0003
Revises: c0002
Create Date: 2026-11-22

procrastinate's functions and triggers name their tables unqualified. Pinning their search_path
lets a tenant transaction (any search_path) insert a job row in the same transaction as the
change that asks for it: the outbox comes for free, and a job exists only if its cause committed.
"""
from __future__ import annotations

from alembic import op

from infra.db.scripts import execute_script

revision = "c0003"
down_revision = "c0002"
branch_labels = None
depends_on = None

_LOOP = """
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'control' AND p.proname LIKE 'procrastinate%' LOOP
    EXECUTE 'ALTER FUNCTION ' || r.sig || ' {action}';
  END LOOP;
END $$;
"""


def upgrade() -> None:
    execute_script(op.get_bind(), _LOOP.format(action="SET search_path = control, pg_catalog"))


def downgrade() -> None:
    execute_script(op.get_bind(), _LOOP.format(action="RESET search_path"))
