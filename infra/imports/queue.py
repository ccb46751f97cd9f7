"""Names shared by the code that queues an import's job and the worker that runs it."""

IMPORTS_QUEUE = "imports"
IMPORT_TASK = "kizuna.run_import"
