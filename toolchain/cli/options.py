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


class OutputFolder(click.Path):
    """An output folder (-o): a path, never the empty string (which would write into the current
    folder unasked: `-o .` says so)."""

    def __init__(self):
        super().__init__(file_okay=False, path_type=Path)

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path; give a folder (`.` for the current one)", param, ctx)
        return super().convert(value, param, ctx)


class SymbolName(click.ParamType):
    """A name for exported C symbols and files: 1 to 63 characters (C's significant length of an
    external identifier; a longer one also makes file names the file system refuses)."""
    name = "name"
    MAX_CHARS = 63

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        if not value.strip() or len(value) > self.MAX_CHARS:
            self.fail(f"{len(value):,} characters; expected 1 to {self.MAX_CHARS}", param, ctx)
        return value


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


def patch_option(f):
    """--patch: the C engine's first stage computed patch by patch (firmware_export/cengine/patch.py)."""
    return click.option("--patch", default="off", show_default=True, metavar="auto|off|N",
                        help="C engine: compute the first, high-resolution stage patch by patch (bands of the "
                             "stage's output, halos recomputed) for a smaller arena: 'auto' picks the stage and "
                             "patch count with the smallest arena within +20 % MACs, N forces N patches.")(f)


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


def keras_loading_options(command):
    """--custom-objects and --trust-lambda: every command that loads a Keras model takes them."""
    command = click.option("--trust-lambda", is_flag=True,
                           help="Load Lambda layers (runs code from the model file).")(command)
    return click.option("--custom-objects", type=click.Path(dir_okay=False, path_type=Path),
                        help="Python file defining custom layers/functions of the model.")(command)
