"""``leadflow backtest routing|credit ...``: what a draft rule set or contract would have
done to past leads, beside what was decided, run here against the database (nothing is
written, no event published), with a progress bar and the result as tables. Both exit 1
when the rules in force do not reproduce the stored decisions (the proof)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from services.exit_codes import ExitCode, fail, reaching
from services.stack_file import NoServers, servers_settings
from shared.db import SessionFactory, make_engine, make_sessions

app = typer.Typer(help="Backtests: drafts against past leads.", no_args_is_help=True)
T = TypeVar("T")
Told = Callable[[int, int], Awaitable[None]]  # (done, total)

From = Annotated[str, typer.Option("--from", help="Leads received from this day (YYYY-MM-DD)")]
To = Annotated[str, typer.Option("--to", help="... to this day, excluded")]


def _window(start: str, end: str) -> tuple[date, date]:
    try:
        window = (date.fromisoformat(start), date.fromisoformat(end))
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    if window[1] <= window[0]:
        raise typer.BadParameter("--to must be after --from")
    return window


def _run(what: str, job: Callable[[SessionFactory, Told], Awaitable[T]]) -> T:
    """Run ``job`` on the stack's database, its progress (done, total) as a bar."""
    try:
        settings = servers_settings(need_broker=False)
    except NoServers as missing:
        fail(ExitCode.USAGE, str(missing))
    columns = (TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(what, total=None)

        async def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        async def run() -> T:
            engine = make_engine(settings.database_url or "", pool_size=2)
            try:
                return await job(make_sessions(engine), progress)
            finally:
                await engine.dispose()

        with reaching("the database"):
            return asyncio.run(run())


@app.command("routing")
def routing_command(
    start: From,
    end: To,
    ruleset: Annotated[
        Path | None,
        typer.Option(help="A draft rule set (YAML or JSON); none: the active one (the proof)"),
    ] = None,
    samples: Annotated[int, typer.Option(help="Changed leads shown with both traces")] = 5,
) -> None:
    """What a draft rule set would have done to past leads, beside what the router did."""
    from pydantic import ValidationError

    from services.router.backtest import UnknownInChanges, backtest_routing
    from services.router.domain.ruleset import parse_ruleset

    window = _window(start, end)
    try:
        draft = parse_ruleset(ruleset.read_text()) if ruleset else None
    except (ValueError, OSError, ValidationError) as error:
        raise typer.BadParameter(str(error)) from None
    try:
        report = _run(
            "leads decided again",
            lambda sessions, told: backtest_routing(sessions, draft, window, progress=told),
        )
    except UnknownInChanges as error:
        fail(ExitCode.USAGE, str(error))
    out = Console()
    out.print(
        f"routing backtest: rule set {report.ruleset}, leads received {start} to {end}: "
        f"{report.leads} leads, {report.differences} routed otherwise, {report.rotation} "
        "another member of the same round robin"
    )
    for title, moved in (("rule", report.by_rule), ("owner", report.by_owner)):
        if moved:
            table = Table(title=f"by {title}: before -> after")
            for column in ("before", "after", "leads"):
                table.add_column(column)
            for (before, after), n in moved.most_common():
                table.add_row(before, after, str(n))
            out.print(table)
    for flag, n in sorted(report.flags_gained.items()):
        out.print(f"flag gained: {flag} on {n} leads")
    for flag, n in sorted(report.flags_lost.items()):
        out.print(f"flag lost: {flag} on {n} leads")
    for sample in report.samples[:samples]:
        out.print(f"\n{sample.lead_id} ({sample.kind}):")
        out.print(f"  before: {sample.before.explanation}")
        out.print(f"  after:  {sample.after.explanation}")
    if draft is None and report.differences:
        raise typer.Exit(ExitCode.PARTLY)


@app.command("credit")
def credit_command(
    firm: Annotated[str, typer.Option(help="The firm whose past leads are decided again")],
    start: From,
    end: To,
    terms: Annotated[
        Path | None,
        typer.Option(
            help="The draft terms, a YAML or JSON file (as PUT /v1/firms/{firm}/contract "
            "takes); none: the current contract (the reproducibility proof)"
        ),
    ] = None,
    changes: Annotated[int, typer.Option(help="Changed leads listed, both reason lists")] = 20,
) -> None:
    """What draft terms would have decided for a firm's past leads, beside what was
    decided: per month, credited count and amount, and the statement's lines."""
    import yaml
    from pydantic import ValidationError

    from services.credit.backtest import backtest_credit
    from services.credit.domain.contract import Terms

    window = _window(start, end)
    try:
        draft = Terms.model_validate(yaml.safe_load(terms.read_text())) if terms else None
    except (ValueError, OSError, ValidationError, yaml.YAMLError) as error:
        raise typer.BadParameter(str(error)) from None
    report = _run(
        "leads decided again",
        lambda sessions, told: backtest_credit(sessions, firm, draft, window, progress=told),
    )
    console = Console()
    table = Table(title=f"credit backtest: {firm}, {report.terms} vs decided, {start} to {end}")
    for column in (
        "month",
        "leads",
        "credited before",
        "after",
        f"amount before ({report.currency})",
        "after",
    ):
        table.add_column(column, justify="right")
    for m in report.months:
        table.add_row(m.month, str(m.leads), str(m.credited_before), str(m.credited_after),
                      f"{m.amount_before:,.2f}", f"{m.amount_after:,.2f}")  # fmt: skip
    console.print(table)
    lines = Table(title="the statements: what is paid for, before -> after")
    for column in ("month", "line", "before", "after", "amount before", "after"):
        lines.add_column(column, justify="right")
    for m in report.months:
        for line in m.statement:
            lines.add_row(m.month, line.what, str(line.before), str(line.after),
                          f"{line.amount_before:,.2f}", f"{line.amount_after:,.2f}")  # fmt: skip
    console.print(lines)
    console.print(f"{report.leads} leads, {report.differences} decided otherwise")
    for change in report.changes[:changes]:
        before = f"{change.before.state} {change.before.amount}" if change.before else "none"
        console.print(f"\n{change.lead_id} ({change.month}): {before} -> "
                      f"{change.after.state} {change.after.amount}: {change.why}")  # fmt: skip
        for sentence in change.before.reasons if change.before else ():
            console.print(f"  before: {sentence}")
        for sentence in change.after.reasons:
            console.print(f"  after:  {sentence}")
    if draft is None and report.differences:
        raise typer.Exit(ExitCode.PARTLY)
