"""Click parameter types and shared options: validation at the boundary."""
from __future__ import annotations

from pathlib import Path

import click

from toolchain.base.errors import EdgecError


class TargetType(click.ParamType):
    """A target name, resolved to a validated TargetProfile."""
    name = "target"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        import targets

        try:
            return targets.load_target(value)
        except EdgecError as exc:
            self.fail(exc.message, param, ctx)

    def shell_complete(self, ctx, param, incomplete):
        import targets
        from click.shell_completion import CompletionItem

        return [CompletionItem(n) for n in targets.registry() if n.startswith(incomplete)]


def resolve_target(target, target_file):
    """--target-file wins over --target; one of the two is required."""
    import targets

    if target_file is not None:
        return targets.load_target_file(target_file)
    if target is None:
        raise click.UsageError("give --target NAME (see `edgec targets`) or --target-file FILE")
    return target


def target_options(f):
    f = click.option("--target-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="A target profile TOML file of your own.")(f)
    f = click.option("--target", "-t", type=TargetType(), help="Target name (see `edgec targets`).")(f)
    return f


def weights_option(f):
    """--weights: how the generated engine (and the TFLM model) store the weights."""
    return click.option("--weights", type=click.Choice(["auto", "dense"]), default=None,
                        help="Weight storage: 'auto' (default) stores clustered and pruned weights compressed "
                             "where it pays (C engine: packed indices or sparse; TFLM: LUT); 'dense' ships "
                             "plain int8.")(f)


def output_options(f):
    f = click.option("--quiet", "-q", is_flag=True, help="No progress, only the summary or errors.")(f)
    f = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout, nothing else.")(f)
    return f


def make_console(as_json: bool, quiet: bool):
    """A console for human output: stderr when --json owns stdout."""
    from rich.console import Console

    console = Console(stderr=as_json, quiet=as_json and quiet, highlight=False)
    if not console.is_terminal:  # piped or captured: wide enough for the tables, no colour codes
        console = Console(stderr=as_json, quiet=as_json and quiet, highlight=False, width=120,
                          no_color=True)
    return console
