"""The `recstack` command line: deploy, inspect, query and tear down an environment."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.export.pbtxt import ENSEMBLE, USER_ID

from . import client, endpoints, environments, health
from .runner import PlaybookResult, TaskOutcome, run_playbook

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
# soft_wrap: long task names stay on one line in CI logs.
console = Console(soft_wrap=True)

EnvArg = Annotated[str, typer.Argument(help="environment to act on (local)")]

_STYLE = {"ok": "green", "changed": "yellow", "skipped": "dim", "failed": "bold red"}


def _environment(name: str) -> environments.Environment:
    try:
        return environments.get(name)
    except environments.UnknownEnvironment as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _progress(kind: str, outcome: TaskOutcome | None) -> None:
    if outcome is None:
        console.print(f"[bold]▶ {escape(kind.removeprefix('play:'))}[/bold]")
        return
    style = _STYLE.get(outcome.status, "red")
    console.print(
        f"  [{style}]{outcome.status:<8}[/{style}] {escape(outcome.host)}: {escape(outcome.task)}"
    )
    if outcome.message:
        console.print(escape(outcome.message), style="red")


def _play(env: environments.Environment, playbook: str) -> PlaybookResult:
    result = run_playbook(env, playbook, _progress)
    if not result.ok:
        console.print(f"[bold red]{playbook} failed ({result.status})[/bold red]")
        for failure in result.failed:
            console.print(escape(f"  {failure.host}: {failure.task}\n    {failure.message}"))
        raise typer.Exit(1)
    return result


@app.command()
def up(
    env: EnvArg = "local",
    expect_no_changes: Annotated[
        bool,
        typer.Option(help="fail if any task changes something (the idempotence check)"),
    ] = False,
) -> None:
    """Deploy an environment (every tier), then show a few users' recommendations."""
    environment = _environment(env)
    result = _play(environment, "site.yml")
    _play(environment, "endpoints.yml")
    changed = result.changed
    console.print(
        f"[bold]{environment.name} is up[/bold]: {len(result.outcomes)} tasks, "
        f"{len(changed)} changed, {result.duration_s:.0f} s"
    )
    if expect_no_changes and changed:
        for outcome in changed:
            console.print(f"  [yellow]changed[/yellow] {outcome.host}: {outcome.task}")
        console.print("[bold red]expected no changes on this run (idempotence)[/bold red]")
        raise typer.Exit(1)
    _show_sample(environment)


def _show_sample(environment: environments.Environment) -> None:
    where = endpoints.load(environment)
    sample = client.recommend(where.grpc_url(), [1, 2, 3])
    for rec in sample:
        items = ", ".join(str(i) for i in rec.item_ids[:10])
        console.print(f"  user {rec.user_id}: {items} …")
    console.print(
        f"Query it: recstack recommend --user 23 | Triton gRPC {where.grpc_url()}, "
        f"HTTP {where.http_url()} (model {ENSEMBLE}, input {USER_ID.name} {USER_ID.dtype} [-1,1])"
    )


@app.command()
def down(env: EnvArg = "local") -> None:
    """Stop and remove the environment's services (data directories are kept)."""
    environment = _environment(env)
    result = _play(environment, "down.yml")
    environment.endpoints_file.unlink(missing_ok=True)
    console.print(f"[bold]{environment.name} is down[/bold] ({result.duration_s:.0f} s)")


@app.command()
def status(env: EnvArg = "local") -> None:
    """Health of every component; exits 1 if any is unhealthy."""
    where = _endpoints(_environment(env))
    table = Table("component", "endpoint", "state", "detail")
    checks = health.check_all(where)
    for check in checks:
        state = "[green]up[/green]" if check.ok else "[red]DOWN[/red]"
        detail = check.detail if check.ok else f"{check.detail}\n→ {check.hint}"
        table.add_row(check.component, check.endpoint, state, detail)
    console.print(table)
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


@app.command()
def recommend(
    user: Annotated[int, typer.Option("--user", "-u", help="user id")],
    k: Annotated[int, typer.Option("-k", help="how many items to show", min=1)] = 10,
    env: Annotated[str, typer.Option("--env", help="environment")] = "local",
    protocol: Annotated[str, typer.Option(help="grpc or http")] = "grpc",
) -> None:
    """Ask the deployed ensemble for a user's recommendations."""
    where = _endpoints(_environment(env))
    url = where.grpc_url() if protocol == "grpc" else where.http_url()
    try:
        (rec,) = client.recommend(url, [user], protocol=protocol)
    except Exception as exc:  # a down server, a refused request: say which and why
        console.print(f"[red]recommendation request to {url} failed: {exc}[/red]")
        raise typer.Exit(1) from None
    if k > len(rec.item_ids):
        console.print(
            f"[yellow]the deployment returns {len(rec.item_ids)} items per user; "
            "raise serving.top_k in the pipeline config for more[/yellow]"
        )
    source = "popular items (no features for this user)" if rec.fallback else "personalised"
    table = Table("rank", "item", "score", title=f"user {user}: {source}")
    for rank, (item, score) in enumerate(zip(rec.item_ids[:k], rec.scores[:k], strict=True), 1):
        table.add_row(str(rank), str(item), f"{score:.4f}")
    console.print(table)


def _endpoints(environment: environments.Environment) -> endpoints.Endpoints:
    try:
        return endpoints.load(environment)
    except endpoints.NotDeployed as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


if __name__ == "__main__":
    app()
