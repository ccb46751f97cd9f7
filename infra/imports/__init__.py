"""Bulk CSV imports: reading files, bulk writers, running imports for the CLI and the worker."""
