"""`kizuna import customers|orders|products FILE.csv --tenant SLUG` (filled in by the imports work)."""

from __future__ import annotations

import typer

import_app = typer.Typer(help="Bulk CSV import (UTF-8 or Shift_JIS).", no_args_is_help=True)
