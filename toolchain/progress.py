"""Progress of work that takes more than a couple of seconds: a bar on the terminal, nothing else.

Library code reports to a `Progress` it is given (the default is silent, so tests and pipelines
see nothing); a command makes one with `progress_for(console, quiet)`, which is live only when the
console is a terminal and --quiet is not given. The bar is transient: it disappears when the work
is done, and never writes to stdout when --json owns it (the console is then stderr).
"""
from __future__ import annotations

from typing import Callable


class Progress:
    """Silent progress: what a command reports when nobody is watching."""

    live = False

    def stage(self, description: str, total: float | None = None) -> None:
        """Start a new piece of work (total None: a spinner with the time elapsed)."""

    def update(self, description: str | None = None, completed: float | None = None,
               total: float | None = None) -> None:
        """Change the current piece of work's description or count."""

    def advance(self, amount: float = 1) -> None:
        """Count `amount` more units of the current piece of work as done."""

    def passes(self, labels: dict[str, str]) -> Callable[[str], None]:
        """An `on_pass(name)` callback for a pipeline of named passes: one stage per pass."""
        return lambda name: self.stage(labels.get(name, name))

    def keras_callback(self, label: str):
        """A Keras callback reporting epochs and batches of `model.fit`, or None when silent."""
        return None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        return None


SILENT = Progress()


class TerminalProgress(Progress):
    """A rich progress bar on a terminal console, removed when the work is done."""

    live = True

    def __init__(self, console):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress, SpinnerColumn,
                                   TextColumn, TimeElapsedColumn)

        self._bar = RichProgress(SpinnerColumn(), TextColumn("{task.description:<48}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)
        self._task = None

    def stage(self, description: str, total: float | None = None) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(description, total=total)

    def update(self, description: str | None = None, completed: float | None = None,
               total: float | None = None) -> None:
        if self._task is None:
            self.stage(description or "", total)
        kwargs = {k: v for k, v in (("description", description), ("completed", completed), ("total", total))
                  if v is not None}
        self._bar.update(self._task, **kwargs)

    def advance(self, amount: float = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, amount)

    def keras_callback(self, label: str):
        import keras

        progress = self

        class Epochs(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                epochs = self.params.get("epochs")
                progress.stage(f"{label}: epoch {epoch + 1}/{epochs}", total=self.params.get("steps"))

            def on_train_batch_end(self, batch, logs=None):
                progress.advance(1)

        return Epochs()

    def __enter__(self) -> Progress:
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.stop()


def progress_for(console, quiet: bool) -> Progress:
    """A live bar when `console` is a terminal and not --quiet; otherwise silent."""
    if quiet or console is None or not console.is_terminal:
        return SILENT
    return TerminalProgress(console)
