"""The `kizuna` command line: serve, migrate, tenants, clients, keys, openapi, demo."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli_import import import_app
from api.cli_loyalty import loyalty_app
from domain.auth.model import TENANT_SCOPES, new_client
from domain.shared.clock import SystemClock
from domain.shared.errors import DomainError
from domain.shared.pagination import PageRequest
from domain.tenants.model import TenantStatus
from domain.tenants.services import create_tenant, list_tenants, update_tenant
from infra.db.engine import database
from infra.settings import Settings

app = typer.Typer(help="Kizuna: multi-tenant CRM, loyalty and retention marketing API.",
                  no_args_is_help=True, add_completion=False)
tenants_app = typer.Typer(help="Provision and manage tenants.", no_args_is_help=True)
clients_app = typer.Typer(help="Manage OAuth clients.", no_args_is_help=True)
keys_app = typer.Typer(help="Token signing keys.", no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")
app.add_typer(import_app, name="import")
app.add_typer(loyalty_app, name="loyalty")
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True, highlight=False)


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="Bind address")] = None,
          port: Annotated[int | None, typer.Option(help="Port")] = None,
          workers: Annotated[int | None, typer.Option(help="Worker processes")] = None) -> None:
    """Serve the API. Never migrates: run `kizuna migrate` first (/readyz says if you did not)."""
    import uvicorn

    from domain.auth.services import ensure_platform_client
    from infra.auth.keys import ensure_signing_key
    from infra.db.migrate import control_revision, head
    from infra.logging import configure_logging
    from infra.runtime import runtime

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    with database(settings) as url:
        async def prepare() -> None:
            async with runtime(settings, url, pool_size=1) as rt:
                async with rt.engine.connect() as conn:
                    try:
                        current = await control_revision(conn)
                    except Exception:
                        current = None
                if current != head("control"):
                    _fail("the database is not migrated: run `kizuna migrate` first")
                # Created here, before workers fork, so they all find the same key.
                await ensure_signing_key(rt.engine)
                if settings.bootstrap_client_id and settings.bootstrap_client_secret:
                    await ensure_platform_client(uow=rt.uow_factory(None), clock=SystemClock(),
                                                 client_id=settings.bootstrap_client_id,
                                                 client_secret=settings.bootstrap_client_secret)

        asyncio.run(prepare())
        # Workers only connect: they get the resolved URL, never start a server of their own.
        os.environ["KIZUNA_DATABASE_URL"] = url
        # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler that
        # kills this process before `database()` can stop the embedded PostgreSQL.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        # The workers share one listening socket, and libuv (under uvloop) accepts every pending
        # connection at once: a client opening four connections together had all four on one
        # worker while the other idled (measured on events ingest). One accept at a time, then a
        # yield, lets the other workers take their share (a libuv setting; the workers inherit it).
        os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")
        uvicorn.run("api.app:app_from_env", factory=True, host=host or settings.host,
                    port=port or settings.port, workers=workers or settings.workers,
                    log_config=None, access_log=False, proxy_headers=True)


@app.command()
def worker(queues: Annotated[str, typer.Option(help="Comma-separated queues; empty: all")] = "",
           concurrency: Annotated[int, typer.Option(help="Jobs at once")] = 4) -> None:
    """Run background and scheduled jobs (procrastinate) until interrupted."""
    from infra.heap import settle_after_startup
    from infra.jobs import job_app
    from infra.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)

    async def run(url: str) -> None:
        async with job_app(settings, url) as jobs:
            settle_after_startup()
            await jobs.run_worker_async(queues=[q for q in queues.split(",") if q] or None,
                                        concurrency=concurrency)

    with database(settings) as url:
        asyncio.run(run(url))


@app.command()
def migrate(concurrency: Annotated[int | None, typer.Option(help="Tenant schemas at once")] = None) -> None:
    """Upgrade the control plane, then every tenant schema; exit 1 naming any tenant that failed."""
    from infra.db.migrate import head, migrate_all_tenants, upgrade_control
    from infra.runtime import runtime

    settings = Settings()
    n = concurrency or settings.migrate_concurrency

    async def run() -> int:
        async with runtime(settings, url, pool_size=n) as rt:
            await upgrade_control(rt.engine)
            async with rt.engine.connect() as conn:
                from sqlalchemy import text
                total = (await conn.execute(text("SELECT count(*) FROM control.tenants"))).scalar() or 0
            with Progress(TextColumn("tenant schemas"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=False) as progress:
                task = progress.add_task("migrate", total=total)
                report = await migrate_all_tenants(rt.engine, concurrency=n,
                                                   on_done=lambda _s: progress.advance(task))
            async with rt.engine.begin() as conn:
                from infra.db.notify import notify
                await notify(conn, "migrated")
        console.print(f"control plane at {head('control')}; tenant head {head('tenant')}: "
                      f"{len(report.upgraded)} upgraded, {len(report.current)} already current, "
                      f"{len(report.failed)} failed")
        for schema, reason in sorted(report.failed.items()):
            console.print(f"[red]failed[/red] {schema}: {reason}")
        return 1 if report.failed else 0

    with database(settings) as url:
        code = asyncio.run(run())
    raise typer.Exit(code)


def _with_runtime(fn):  # type: ignore[no-untyped-def]
    """Run `fn(rt)` against the configured database, turning domain errors into messages."""
    from infra.runtime import runtime

    settings = Settings()

    async def run(url: str):  # type: ignore[no-untyped-def]
        async with runtime(settings, url, pool_size=2) as rt:
            return await fn(rt)

    with database(settings) as url:
        try:
            return asyncio.run(run(url))
        except DomainError as exc:
            _fail(exc.detail)


def _print_credentials(tenant_slug: str, client_id: str, secret: str, scopes: list[str]) -> None:
    out.print(f"tenant:        {tenant_slug}")
    out.print(f"client_id:     {client_id}")
    out.print(f"client_secret: {secret}   (shown once; only a digest is stored)")
    out.print(f"scopes:        {' '.join(scopes)}")


@tenants_app.command("create")
def tenants_create(slug: str, name: Annotated[str, typer.Option(help="Display name")],
                   timezone: str = "Asia/Tokyo", currency: str = "JPY") -> None:
    """Create a tenant (schema and an initial client with every tenant scope)."""
    async def fn(rt):  # type: ignore[no-untyped-def]
        return await create_tenant(uow=rt.uow_factory(None), clock=SystemClock(), slug=slug,
                                   name=name, timezone=timezone, currency=currency)
    made = _with_runtime(fn)
    _print_credentials(made.tenant.slug, made.initial_client.client.client_id,
                       made.initial_client.client_secret, list(made.initial_client.client.scopes))


@tenants_app.command("list")
def tenants_list() -> None:
    """List tenants."""
    async def fn(rt):  # type: ignore[no-untyped-def]
        found, after = [], None
        while True:
            page = await list_tenants(uow=rt.uow_factory(None), page=PageRequest(limit=200, after=after))
            found.extend(page.items)
            if page.next_after is None:
                return found
            after = page.next_after
    table = Table("slug", "name", "status", "timezone", "currency", "id")
    for t in _with_runtime(fn):
        table.add_row(t.slug, t.name, t.status.value, t.timezone, t.currency, str(t.id))
    out.print(table)


def _set_status(slug: str, status: TenantStatus) -> None:
    async def fn(rt):  # type: ignore[no-untyped-def]
        async with rt.uow_factory(None) as uow:
            tenant = await uow.tenants.get_by_slug(slug)
        if tenant is None:
            _fail(f"no tenant {slug!r}")
        return await update_tenant(uow=rt.uow_factory(None), clock=SystemClock(), tenant_id=tenant.id,
                                   status=status)
    tenant = _with_runtime(fn)
    out.print(f"{tenant.slug}: {tenant.status.value}")


@tenants_app.command("suspend")
def tenants_suspend(slug: str) -> None:
    """Suspend a tenant: its tokens get 403 at once on every worker."""
    _set_status(slug, TenantStatus.SUSPENDED)


@tenants_app.command("resume")
def tenants_resume(slug: str) -> None:
    """Reactivate a suspended tenant."""
    _set_status(slug, TenantStatus.ACTIVE)


@clients_app.command("create")
def clients_create(tenant: Annotated[str, typer.Option(help="Tenant slug")],
                   name: Annotated[str, typer.Option(help="Client name")],
                   scopes: Annotated[str, typer.Option(help="Space-separated; default: all")] = "") -> None:
    """Create an OAuth client for a tenant and print its secret once."""
    async def fn(rt):  # type: ignore[no-untyped-def]
        async with rt.uow_factory(None) as uow:
            found = await uow.tenants.get_by_slug(tenant)
            if found is None:
                _fail(f"no tenant {tenant!r}")
            issued = new_client(tenant_id=found.id, name=name,
                                scopes=tuple(scopes.split()) or TENANT_SCOPES, now=SystemClock().now())
            await uow.clients.add(issued.client)
            await uow.commit()
        return issued
    issued = _with_runtime(fn)
    _print_credentials(tenant, issued.client.client_id, issued.client_secret, list(issued.client.scopes))


@keys_app.command("rotate")
def keys_rotate() -> None:
    """New signing key; the old one verifies until its last token expires."""
    from infra.auth.keys import rotate_keys

    settings = Settings()

    async def fn(rt):  # type: ignore[no-untyped-def]
        return await rotate_keys(rt.engine, token_ttl_seconds=settings.token_ttl_seconds)
    out.print(f"signing with key {_with_runtime(fn)}")


@app.command()
def openapi(output: Annotated[Path, typer.Option(help="Where to write")] = Path("openapi/openapi.json"),
            ) -> None:
    """Write the OpenAPI document (committed; a test fails when it drifts)."""
    from api.app import create_app

    document = create_app(Settings()).openapi()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n",
                      encoding="utf-8")
    console.print(f"wrote {output}")


@app.command()
def demo() -> None:
    """Ensure tenant `demo` with sample data and a client `demo`; print its credentials and a curl."""
    from api.demo import ensure_demo

    settings = Settings()
    result = _with_runtime(lambda rt: ensure_demo(rt))
    base = f"http://{settings.host}:{settings.port}"
    _print_credentials("demo", result.client_id, result.client_secret, result.scopes)
    token_cmd = (f"curl -s -u {shlex.quote(result.client_id + ':' + result.client_secret)} "
                 f"-d grant_type=client_credentials {base}/oauth/token")
    out.print("\nGet a token and call the API:")
    extract = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
    out.print(f"  TOKEN=$({token_cmd} | {extract})")
    out.print(f"  curl -s -H \"Authorization: Bearer $TOKEN\" {base}/v1/clients")
    out.print(f"\nDocs: {base}/docs")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
