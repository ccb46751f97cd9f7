"""What every batch endpoint shares at the HTTP edge: items validated one by one against their
request model, and one refused item as the members of its entry in `errors`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from api.errors import lookup
from api.http.problems import FieldError
from domain.shared.batch import ItemError
from domain.shared.errors import FieldProblem, InvalidInput

M = TypeVar("M", bound=BaseModel)


def parse_items(model: type[M], raw: Sequence[Any]) -> tuple[list[tuple[int, M]], list[ItemError]]:
    """Validate each batch item alone: (index, item) for the valid ones, an ItemError (field paths
    relative to the item) for each other one."""
    adapter = TypeAdapter(model)
    valid: list[tuple[int, M]] = []
    errors: list[ItemError] = []
    for index, item in enumerate(raw):
        try:
            valid.append((index, adapter.validate_python(item)))
        except ValidationError as exc:
            errors.append(ItemError(index, InvalidInput("the item has invalid fields", problems=[
                FieldProblem(field=".".join(str(p) for p in e["loc"]) or "item", message=e["msg"])
                for e in exc.errors()])))
    return valid, errors


def item_error_body(e: ItemError) -> dict[str, Any]:
    """The members of one per-item error: index, detail, code, errors and the error's extras."""
    extra = dict(e.error.extra)
    code = extra.pop("code", lookup(e.error)[1].replace("-", "_"))
    problems = e.error.problems if isinstance(e.error, InvalidInput) else []
    return {"index": e.index, "detail": e.error.detail, "code": code,
            "errors": [FieldError(field=p.field, message=p.message) for p in problems], **extra}
