"""Job queue: procrastinate's tables and functions, in schema `control`.

Revision ID: c0002
Revises: c0001
Create Date: 2026-11-22

procrastinate looks its tables up through the connection's search_path, so its workers connect
with `options=-c search_path=control` (infra/jobs.py); here SET LOCAL does the same for the
duration of this migration's transaction only.
"""
from __future__ import annotations

from alembic import op
from procrastinate.schema import SchemaManager

from infra.db.scripts import execute_script

revision = "c0002"
down_revision = "c0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL search_path TO control")
    execute_script(op.get_bind(), SchemaManager.get_schema())
    op.execute("RESET search_path")


def downgrade() -> None:
    execute_script(op.get_bind(), """
        DO $$
        DECLARE r record;
        BEGIN
          FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
                   JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = 'control' AND p.proname LIKE 'procrastinate%' LOOP
            EXECUTE 'DROP FUNCTION IF EXISTS ' || r.sig || ' CASCADE';
          END LOOP;
          FOR r IN SELECT tablename FROM pg_tables
                   WHERE schemaname = 'control' AND tablename LIKE 'procrastinate%' LOOP
            EXECUTE 'DROP TABLE IF EXISTS control.' || quote_ident(r.tablename) || ' CASCADE';
          END LOOP;
          FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                   WHERE n.nspname = 'control' AND t.typname LIKE 'procrastinate%'
                     AND (t.typtype = 'e' OR (t.typtype = 'c' AND EXISTS (
                          SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))) LOOP
            EXECUTE 'DROP TYPE IF EXISTS control.' || quote_ident(r.typname) || ' CASCADE';
          END LOOP;
        END $$;
    """)
