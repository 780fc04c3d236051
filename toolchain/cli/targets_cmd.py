"""`edgec targets` and `edgec targets show NAME`."""
from __future__ import annotations

import click

from toolchain.cli.options import TargetType, make_console


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def targets(ctx, as_json):
    """List the known targets (built in, and from EDGEC_TARGETS_PATH)."""
    if ctx.invoked_subcommand is not None:
        return
    import targets as registry
    from toolchain.report.targets_report import TargetList

    report = TargetList(tuple(registry.all_targets()))
    if as_json:
        click.echo(report.to_json(), nl=False)
        return
    report.render(make_console(False, False))


@targets.command("show")
@click.argument("target", type=TargetType())
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show(target, as_json):
    """Print one target profile."""
    from toolchain.report.targets_report import TargetShow

    report = TargetShow(target)
    if as_json:
        click.echo(report.to_json(), nl=False)
        return
    for line in report.lines():
        click.echo(line)
