"""The `recstack` command line: deploy, inspect, query and tear down an environment."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipelines.serving.tensors import USER_ID
from pipelines.streaming.events import EventProducer, EventsNotDelivered
from recstack_contract.events import EVENT_TYPES, InvalidEvent
from recstack_contract.kafka import INTERACTIONS, KafkaEndpointError
from recstack_contract.secrets import REDIS_PASSWORD, TRITON_ADMIN_TOKEN
from recstack_contract.triton import ENSEMBLE

from . import (
    PROJECT_ROOT,
    client,
    cloud,
    cloud_deploy,
    cost,
    endpoints,
    environments,
    health,
    rehearsal,
    secrets,
    stack_files,
)
from .runner import PlaybookResult, TaskOutcome, run_playbook

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
# soft_wrap: long task names stay on one line in CI logs.
console = Console(soft_wrap=True)

EnvArg = Annotated[
    str,
    typer.Argument(
        help="environment: local, testbed, a cloud stack (Pulumi.<stack>.yaml), "
        "or a path to an inventory directory"
    ),
]
T = TypeVar("T")

_STYLE = {"ok": "green", "changed": "yellow", "skipped": "dim", "failed": "bold red"}


def _environment(name: str) -> environments.Environment:
    try:
        return environments.get(name)
    except environments.UnknownEnvironment as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


# Each play's header says when it started, counted from the command's start: where a
# long deployment spends its time, from any log.
_STARTED = time.monotonic()


def _progress(kind: str, outcome: TaskOutcome | None) -> None:
    if outcome is None:
        at = time.monotonic() - _STARTED
        console.print(f"[bold]▶ {escape(kind.removeprefix('play:'))}[/bold] [dim]+{at:.0f} s[/dim]")
        return
    style = _STYLE.get(outcome.status, "red")
    console.print(
        f"  [{style}]{outcome.status:<8}[/{style}] {escape(outcome.host)}: {escape(outcome.task)}"
    )
    if outcome.message:
        console.print(escape(outcome.message), style="red")


def play(
    env: environments.Environment, playbook: str, extravars: dict[str, Any] | None = None
) -> PlaybookResult:
    """Run a playbook with the environment's secrets, showing progress; exits on failure.
    `extravars` add to (and win over) the inventory's variables for this run."""
    variables = {**secrets.playbook_variables(env), **(extravars or {})}
    return _require_ok(run_playbook(env, playbook, _progress, variables))


def _require_ok(result: PlaybookResult) -> PlaybookResult:
    if not result.ok:
        console.print(f"[bold red]{result.playbook} failed ({result.status})[/bold red]")
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
    """Deploy an environment: `local`, `testbed`, a cloud stack (Pulumi, then the same
    playbooks), or `rehearsal-<stack>` (the stack's variables on the testbed's hosts)."""
    environment = _environment(env)
    results = []
    if environment.cloud:
        outputs = _cloud(lambda: cloud.up(environment.name, _pulumi_line))
        _ensure_triton_admin_token(environment)
        results.append(
            _require_ok(cloud_deploy.configure(environment, outputs, _progress, run_playbook))
        )
    else:
        _ensure_triton_admin_token(environment)
        if environment.rehearsal:
            _prepare_rehearsal(environment)
            results.append(play(environment, "rehearsal.yml"))
        results.append(play(environment, "site.yml"))
    play(environment, "endpoints.yml")
    outcomes = [o for r in results for o in r.outcomes]
    changed = [o for r in results for o in r.changed]
    console.print(
        f"[bold]{environment.name} is up[/bold]: {len(outcomes)} tasks, "
        f"{len(changed)} changed, {sum(r.duration_s for r in results):.0f} s"
    )
    if expect_no_changes and changed:
        for outcome in changed:
            console.print(
                f"  [yellow]changed[/yellow] {escape(outcome.host)}: {escape(outcome.task)}"
            )
        console.print("[bold red]expected no changes on this run (idempotence)[/bold red]")
        raise typer.Exit(1)
    if not environment.cloud:
        _show_sample(environment)


@app.command()
def validate(env: EnvArg = "local") -> None:
    """Check an environment's configuration without changing any host: the pre-flight
    play that every `recstack up` starts with (tier modes, endpoints, the HPS rules)."""
    environment = _environment(env)
    if environment.cloud and not environment.inventory.is_dir():
        console.print(
            f"[red]{escape(env)} has no inventory yet: its first `recstack up {escape(env)}` "
            "writes it from the stack's outputs (and runs these checks first)[/red]"
        )
        raise typer.Exit(2)
    if environment.rehearsal:
        _prepare_rehearsal(environment)
    result = play(environment, "preflight.yml")
    console.print(
        f"[bold]{escape(environment.name)}[/bold]: the configuration passes every check "
        f"({len(result.outcomes)} tasks)"
    )


def _prepare_rehearsal(environment: environments.Environment) -> None:
    try:
        binding = rehearsal.prepare(environment)
    except (rehearsal.RehearsalError, rehearsal.OutputsError, rehearsal.BindingError) as error:
        console.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(2) from None
    stand_ins = ", ".join(name for name, _ in binding.redis_stand_ins) or "none"
    console.print(
        f"[bold]{escape(environment.name)}[/bold]: the stack's variables, bound to the testbed "
        f"(managed Redis stand-ins: {escape(stand_ins)}); inventory in {environment.inventory}"
    )


def _ensure_triton_admin_token(environment: environments.Environment) -> None:
    """Triton refuses its admin APIs without this header value: every environment gets
    one on the controller before its first playbook run, and keeps it."""
    secrets.ensure(environment, TRITON_ADMIN_TOKEN)


@app.command()
def preview(
    stack: Annotated[str, typer.Argument(help="cloud stack (Pulumi.<stack>.yaml)")],
) -> None:
    """Show what `recstack up <stack>` would change in AWS, with every policy enforced."""
    environment = _environment(stack)
    if not environment.cloud:
        console.print(f"[red]{stack} is not a cloud stack; preview applies to Pulumi stacks[/red]")
        raise typer.Exit(2)
    _cloud(lambda: cloud.preview(stack, _pulumi_line))


def _pulumi_line(line: str) -> None:
    console.print(escape(line.rstrip("\n")), highlight=False)


def _cloud(action: Callable[[], T]) -> T:
    """Run a Pulumi action; a missing CLI or a failed update ends the command clearly."""
    try:
        return action()
    except cloud.PulumiMissing as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    except Exception as exc:  # automation errors carry Pulumi's own explanation
        console.print(f"[red]pulumi failed: {escape(str(exc))}[/red]")
        raise typer.Exit(1) from None


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
def down(
    env: EnvArg = "local",
    yes: Annotated[bool, typer.Option("--yes", help="confirm destroying a cloud stack")] = False,
) -> None:
    """Stop the local services (data is kept), or destroy a cloud stack (needs --yes)."""
    environment = _environment(env)
    if environment.cloud:
        if not yes:
            console.print(
                f"[red]this destroys every resource of the stack {env}, data included; "
                f"rerun with --yes to confirm[/red]"
            )
            raise typer.Exit(2)
        _cloud(lambda: cloud.destroy(env, _pulumi_line))
        console.print(f"[bold]{env} is destroyed[/bold]")
        return
    result = play(environment, "down.yml")
    environment.endpoints_file.unlink(missing_ok=True)
    console.print(f"[bold]{environment.name} is down[/bold] ({result.duration_s:.0f} s)")


@app.command()
def status(env: EnvArg = "local") -> None:
    """Health of every component; exits 1 if any is unhealthy."""
    environment = _environment(env)
    where = _endpoints(environment)
    table = Table("component", "endpoint", "state", "detail")
    checks = health.check_all(
        where, secrets.redis_password(environment), secrets.triton_admin_token(environment)
    )
    for check in checks:
        state = "[green]up[/green]" if check.ok else "[red]DOWN[/red]"
        detail = check.detail if check.ok else f"{check.detail}\n→ {check.hint}"
        table.add_row(check.component, check.endpoint, state, detail)
    console.print(table)
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


@app.command()
def smoke(
    env: EnvArg = "local",
    junit: Annotated[
        str | None,
        typer.Option(help="JUnit XML report path (default .recstack/<env>/smoke-junit.xml)"),
    ] = None,
) -> None:
    """Run the smoke tests against a deployed environment (a name, or a path to an
    inventory directory); exits with pytest's status."""
    environment = _environment(env)
    if not environment.endpoints_file.exists():
        # An environment deployed from elsewhere: derive its endpoints from the inventory.
        play(environment, "endpoints.yml")
    report = junit or str(environment.state_dir / "smoke-junit.xml")
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(PROJECT_ROOT / "smoke_tests"),
        "--env",
        str(environment.inventory_dir or env),
        f"--junitxml={report}",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    code = subprocess.run(command, cwd=PROJECT_ROOT, check=False).returncode
    console.print(f"JUnit report: {report}")
    raise typer.Exit(code)


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
    if rec.degraded:
        source += ", DEGRADED: Redis was unreachable"
    table = Table("rank", "item", "score", title=f"user {user}: {source}")
    for rank, (item, score) in enumerate(zip(rec.item_ids[:k], rec.scores[:k], strict=True), 1):
        table.add_row(str(rank), str(item), f"{score:.4f}")
    console.print(table)


@app.command(name="cost")
def cost_(
    stack: Annotated[str, typer.Argument(help="cloud stack: a Pulumi.<stack>.yaml file")],
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Hourly and monthly on-demand cost of a cloud stack, from the pinned price table."""
    try:
        report = cost.estimate(stack_files.load_stack(stack))
    except (stack_files.StackFileError, cost.CostError) as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        # Plain print: rich would highlight and wrap, and this output is for machines.
        print(json.dumps(dataclasses.asdict(report), indent=2))
        return
    money = report.currency
    table = Table(title=f"stack {report.stack} ({report.region}), on-demand")
    # Fold, never truncate: an instance type cut to "cache.r7g.xl…" would mislead.
    table.add_column("item", overflow="fold")
    for column in ("quantity x unit price", f"{money}/hour", f"{money}/month"):
        table.add_column(column, justify="right", no_wrap=True)
    for component, lines in report.by_component().items():
        table.add_row(f"[bold]{component}[/bold]")
        for line in lines:
            table.add_row(
                f"  {escape(line.item)}",
                f"{line.quantity:,g} x {line.unit_price:g}/{line.unit}",
                f"{line.hourly:,.4f}",
                f"{line.monthly:,.2f}",
            )
        table.add_section()
    table.add_row("[bold]total[/bold]", "", f"{report.hourly:,.4f}", f"{report.monthly:,.2f}")
    console.print(table)
    total = f"{report.hourly:,.2f} {money}/hour, {report.monthly:,.2f} {money}/month"
    console.print(f"[bold]Total: {total}[/bold] ({report.hours_per_month:g} hours a month)")
    for note in report.notes:
        console.print(escape(note))
    console.print(
        f"Prices as of {report.prices_as_of}, {report.region}: {escape(report.prices_source)}",
        style="dim",
    )
    console.print(
        "Not estimated (usage-priced): " + "; ".join(report.not_estimated) + ".", style="dim"
    )


def _endpoints(environment: environments.Environment) -> endpoints.Endpoints:
    try:
        return endpoints.load(environment)
    except endpoints.NotDeployed as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


# --- interaction events (recstack_contract/events.py) ---------------------------------

events_app = typer.Typer(help="Interaction events on the interactions topic.", no_args_is_help=True)
app.add_typer(events_app, name="events")


@events_app.command("send")
def events_send(
    user: Annotated[int, typer.Option("--user", "-u", help="user id")],
    item: Annotated[int, typer.Option("--item", "-i", help="item id")],
    type_: Annotated[
        str, typer.Option("--type", "-t", help=f"event type: {', '.join(EVENT_TYPES)}")
    ] = "click",
    env: Annotated[str, typer.Option("--env", help="environment")] = "local",
) -> None:
    """Publish one interaction event and wait until the broker has it."""
    where = _endpoints(_environment(env))
    try:
        producer = EventProducer(where.kafka)
        producer.send(user, item, type_)
        producer.flush()
    except (InvalidEvent, EventsNotDelivered, KafkaEndpointError) as error:
        console.print(f"[red]event not sent: {escape(str(error))}[/red]")
        raise typer.Exit(1) from None
    delivery = producer.last
    assert delivery is not None  # flush() raised otherwise
    event = delivery.event
    console.print(
        f"sent {event.type} of user {event.user_id} on item {event.item_id}: event "
        f"{event.event_id}, {INTERACTIONS.name} partition {delivery.partition} "
        f"offset {delivery.offset}"
    )


@app.command()
def simulate(
    rate: Annotated[float, typer.Option(help="events a second", min=0.1)] = 100.0,
    duration: Annotated[float, typer.Option(help="seconds to run", min=0.1)] = 10.0,
    env: Annotated[str, typer.Option("--env", help="environment")] = "local",
    seed: Annotated[int | None, typer.Option(help="seed, for a repeatable run")] = None,
) -> None:
    """Send live impressions and clicks that follow the synthetic data's model."""
    # Imported here: the data model (numpy, pandas) would add a second to every command.
    import numpy as np

    from pipelines.data.simulate import build_world
    from pipelines.streaming.traffic import LINGER_MS, SENDING, Sent, Traffic, send

    where = _endpoints(_environment(env))
    if where.data.source != "synthetic":
        console.print(
            f"[red]{env}'s data.source is {where.data.source}: traffic follows the model "
            "behind synthetic data, which your own data does not have[/red]"
        )
        raise typer.Exit(2)
    traffic = Traffic(build_world(where.data), np.random.default_rng(seed))
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    # The model above takes a few seconds to build; this line says it is done.
    console.print(f"{SENDING}{rate:g} events/s for {duration:g} s to {INTERACTIONS.name}")
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task(f"{rate:g} events/s to {INTERACTIONS.name}", total=duration)

            def report(sent: Sent) -> None:
                bar.update(
                    task,
                    completed=min(sent.elapsed_s, duration),
                    description=f"{sent.impressions} impressions, {sent.clicks} clicks",
                )

            producer = EventProducer(where.kafka, linger_ms=LINGER_MS)
            sent = send(traffic, producer, rate, duration, report)
    except (EventsNotDelivered, KafkaEndpointError) as error:
        console.print(f"[red]simulation stopped: {escape(str(error))}[/red]")
        raise typer.Exit(1) from None
    console.print(
        f"sent {sent.events} events ({sent.impressions} impressions, {sent.clicks} clicks) "
        f"in {sent.elapsed_s:.1f} s: {sent.events / sent.elapsed_s:.0f} events/s, all "
        "acknowledged"
    )


# --- the multi-host testbed (hosts in namespaces on this machine) ---------------------

testbed_app = typer.Typer(
    help="The multi-host testbed: SSH hosts in Linux namespaces on this machine.",
    no_args_is_help=True,
)
app.add_typer(testbed_app, name="testbed")


def _testbed_step(message: str) -> None:
    console.print(f"  {escape(message)}", highlight=False)


def _testbed(action: str) -> Any:
    """testbed.up or testbed.down, with progress; a TestbedError ends the command."""
    from . import testbed  # imported here: the rest of the CLI does not need it

    console.print(f"[bold]▶ testbed {action}[/bold]")
    try:
        return getattr(testbed, action)(_testbed_step)
    except testbed.TestbedError as exc:
        console.print(f"[bold red]testbed {action} failed[/bold red]: {escape(str(exc))}")
        raise typer.Exit(1) from None


@testbed_app.command("up")
def testbed_up() -> None:
    """Start the testbed hosts (or confirm they are up) and write inventories/testbed/hosts.yml."""
    result = _testbed("up")
    # The testbed's Redis cluster requires a login; clients get the password per run.
    secrets.ensure(environments.get("testbed"), REDIS_PASSWORD)
    state = "was already up" if result.already_up else "is up"
    console.print(
        f"[bold]testbed {state}[/bold]: {len(result.hosts)} hosts, {result.seconds:.1f} s; "
        f"inventory {result.inventory}"
    )


@testbed_app.command("down")
def testbed_down() -> None:
    """Remove the testbed: hosts, namespaces, links, NAT, overlays, keys and inventory."""
    result = _testbed("down")
    # Rehearsals' stand-in EBS volumes belonged to those hosts.
    detached = rehearsal.volumes.release()
    if detached:
        console.print(f"detached the rehearsal volumes {', '.join(detached)}")
    if result.removed:
        console.print(f"[bold]testbed is down[/bold] ({result.seconds:.1f} s)")
    else:
        console.print("[bold]testbed was not up[/bold]: nothing to remove")


if __name__ == "__main__":
    app()
