"""End-to-end fixtures: a Python SDK generated from openapi/openapi.json at test time, and a real
`kizuna serve` process (two workers) on 127.0.0.1 against the session's test database.

Every process started here is stopped here, by its pid: SIGTERM, a bounded wait, then SIGKILL
of the process group it leads (uvicorn's worker processes are in that group).
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.support import (
    GENERATOR,
    KIZUNA,
    OPERATOR_ID,
    OPERATOR_SECRET,
    ROOT,
    SDK_PACKAGE,
    START_TIMEOUT,
    Sdk,
    Server,
    free_port,
    server_env,
    stop_process,
)


@pytest.fixture(scope="session")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    """Generate the client with openapi-python-client (offline: it only reads the file) and import it."""
    if not GENERATOR.exists():
        pytest.fail(f"{GENERATOR} is missing: pip install openapi-python-client into the venv")
    where = tmp_path_factory.mktemp("sdk")
    config = where / "config.yml"
    # No post hooks: they would run `ruff` over the generated code, which the test does not need.
    # text/csv (POST /v1/imports) is a byte body to a generated client, as octet-stream is.
    config.write_text(f"package_name_override: {SDK_PACKAGE}\npost_hooks: []\n"
                      "content_type_overrides:\n  text/csv: application/octet-stream\n", encoding="utf-8")
    result = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(ROOT / "openapi" / "openapi.json"),
         "--output-path", str(where / SDK_PACKAGE), "--meta", "none", "--config", str(config),
         "--fail-on-warning"],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"SDK generation failed:\n{result.stdout}\n{result.stderr}"
    sys.path.insert(0, str(where))
    try:
        tags = {}
        for tag in ("oauth", "tenants", "clients", "health"):
            module = importlib.import_module(f"{SDK_PACKAGE}.api.{tag}")
            # One module per operation (named by its operationId); importing sets the attributes.
            for found in pkgutil.iter_modules(module.__path__):
                importlib.import_module(f"{module.__name__}.{found.name}")
            tags[tag] = module
        yield Sdk(package=importlib.import_module(SDK_PACKAGE),
                  models=importlib.import_module(f"{SDK_PACKAGE}.models"),
                  types=importlib.import_module(f"{SDK_PACKAGE}.types"), **tags)
    finally:
        sys.path.remove(str(where))
        for name in [n for n in sys.modules if n == SDK_PACKAGE or n.startswith(SDK_PACKAGE + ".")]:
            del sys.modules[name]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """On failure, attach the end of the server's log to the report: a 500 is explained there."""
    report: pytest.TestReport = yield
    found = getattr(item, "funcargs", {}).get("server")
    if report.failed and isinstance(found, Server) and found.log.exists():
        report.sections.append(("kizuna serve log (last 60 lines)",
                                "\n".join(found.log_text().splitlines()[-60:])))
    return report


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`kizuna serve` with two workers; ready when /healthz answers 200."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("serve")
    log = workdir / "serve.log"
    env = server_env(
        database_url, KIZUNA_HOST="127.0.0.1", KIZUNA_PORT=str(port), KIZUNA_WORKERS="2",
        KIZUNA_ISSUER=f"http://127.0.0.1:{port}",
        KIZUNA_BOOTSTRAP_CLIENT_ID=OPERATOR_ID, KIZUNA_BOOTSTRAP_CLIENT_SECRET=OPERATOR_SECRET,
        # Long enough that only LISTEN/NOTIFY can explain a worker seeing a change in time.
        KIZUNA_CACHE_TTL_SECONDS="600", KIZUNA_DB_POOL_SIZE="4")
    with log.open("wb") as sink:
        proc = subprocess.Popen([str(KIZUNA), "serve"], env=env, cwd=workdir, stdout=sink,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"kizuna serve exited with {proc.returncode}:\n"
                            f"{log.read_text(errors='replace')}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"kizuna serve not healthy after {START_TIMEOUT}s:\n"
                            f"{log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield Server(base_url=base_url, pid=proc.pid, log=log, database_url=database_url)
    finally:
        stop_process(proc)
