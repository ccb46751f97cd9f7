"""Shapes the generated OpenAPI document: the Problem schema, servers, stable output."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.http.problems import Problem


def customise_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes, tags=app.openapi_tags)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(components["Problem"].pop("$defs", {}))
        # FastAPI also lists its own 422 shape; ours replaces it everywhere.
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for url, path in schema.get("paths", {}).items():
            for method, op in path.items():
                responses = op.get("responses", {})
                if url.startswith("/oauth/"):
                    responses.pop("422", None)  # OAuth errors are RFC 6749 JSON, never 422
                if method in ("get", "delete"):
                    for bodiless in ("400", "413", "415"):
                        responses.pop(bodiless, None)
                if "422" in responses:
                    responses["422"]["content"] = {"application/problem+json": {
                        "schema": {"$ref": "#/components/schemas/Problem"}}}
                    responses["422"]["description"] = "Invalid fields; `errors` lists them"
        schema["servers"] = [{"url": "http://127.0.0.1:8000", "description": "make run"}]
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
