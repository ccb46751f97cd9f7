"""`kizuna loyalty check --tenant SLUG`: verify that every member's balance is the sum of its ledger.

Exit status 0 when consistent, 1 when any member's ledger sum differs from its lots minus debt
(each is listed), so it can run from cron or CI against a production copy.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from api.cli_import import _tenant
from domain.loyalty.services import check_ledger
from infra.db.engine import database
from infra.runtime import runtime
from infra.settings import Settings

loyalty_app = typer.Typer(help="Loyalty programs: ledger checks.", no_args_is_help=True)
console = Console()


@loyalty_app.command("check")
def check(tenant: Annotated[str, typer.Option(help="Tenant slug")]) -> None:
    """Compare every member's ledger sum with its lots minus debt."""
    settings = Settings()

    async def run(url: str) -> int:
        async with runtime(settings, url, pool_size=2) as rt:
            ref = await _tenant(rt.uow_factory, tenant)
            if ref is None:
                console.print(f"[red]error:[/red] no tenant {tenant!r}")
                return 1
            found = await check_ledger(uow=rt.uow_factory(ref))
        for m in found:
            console.print(f"member {m.member_id}: ledger sum {m.ledger_sum}"
                          f" != lots - debt {m.lots_minus_debt}")
        if found:
            console.print(f"[red]{len(found)} member(s) inconsistent[/red]")
            return 1
        console.print(f"ledger consistent for tenant {tenant}: every balance is the sum of its entries")
        return 0

    with database(settings) as url:
        code = asyncio.run(run(url))
    raise typer.Exit(code)
