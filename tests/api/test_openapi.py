"""The OpenAPI document is a product: committed, stable ids, typed errors, the OAuth2 scheme."""

from __future__ import annotations

import json
import re

from api.app import create_app
from infra.settings import Settings
from tests.conftest import ROOT


def _generated() -> dict:
    return create_app(Settings()).openapi()


def test_committed_document_matches_the_app():
    committed = json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(_generated())), (
        "openapi/openapi.json is stale: run `make openapi` and commit it")


def test_operation_ids_are_stable_area_verb_names_with_summaries():
    doc = _generated()
    ids = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            ids.append(op["operationId"])
            assert re.fullmatch(r"[a-z]+_[a-z_]+", op["operationId"]), (path, method)
            assert op.get("summary"), (path, method)
    assert len(ids) == len(set(ids))


def test_v1_operations_declare_oauth_scopes_and_problem_errors():
    doc = _generated()
    flows = doc["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/oauth/token"
    for path, item in doc["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, op in item.items():
            assert op["security"] and "oauth2" in op["security"][0], (path, method)
            for status in ("401", "403"):
                content = op["responses"][status]["content"]
                assert content["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
