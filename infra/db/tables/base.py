"""Two metadata trees: the control plane (schema `control`) and one tenant schema.

Tenant tables are declared with no schema; a connection bound with
`schema_translate_map={None: "t_<slug>"}` decides where they live. Every column that would be an
enum is a string with a CHECK constraint (`native_enum=False`), so no schema owns enum types.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CONTROL_SCHEMA = "control"
control_metadata = MetaData(schema=CONTROL_SCHEMA, naming_convention=NAMING)
tenant_metadata = MetaData(naming_convention=NAMING)


class ControlModel(SQLModel, registry=registry(metadata=control_metadata)):
    """Base of control-plane tables."""


class TenantModel(SQLModel, registry=registry(metadata=tenant_metadata)):
    """Base of tables that exist once per tenant schema."""
