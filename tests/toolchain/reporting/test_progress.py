"""Progress: a bar on a terminal (stderr when --json owns stdout), nothing when piped or --quiet;
and --json prints nothing but the JSON on stdout."""
from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys

import pytest
from rich.console import Console

from tests.conftest import REPO, running
from toolchain.progress import SILENT, Progress, TerminalProgress, progress_for


class Recorder(Progress):
    live = True

    def __init__(self):
        self.events = []

    def stage(self, description, total=None):
        self.events.append(("stage", description))

    def update(self, description=None, completed=None, total=None):
        self.events.append(("update", description))


def test_silent_unless_a_terminal_and_not_quiet():
    piped = Console(file=io.StringIO())
    terminal = Console(file=io.StringIO(), force_terminal=True)
    assert progress_for(piped, quiet=False) is SILENT
    assert progress_for(terminal, quiet=True) is SILENT
    assert isinstance(progress_for(terminal, quiet=False), TerminalProgress)


def test_terminal_bar_shows_stages_and_counts():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with progress_for(console, quiet=False) as progress:
        progress.stage("loading the model")
        progress.stage("load input, infer, read outputs", total=4)
        progress.advance(3)
    text = out.getvalue()
    assert "load input, infer, read outputs" in text and "3/4" in text


def test_build_reports_each_pass_and_arena_probe(mlperf_models):
    from targets import load_target
    from toolchain.build import BuildOptions, build

    recorder = Recorder()
    labels = {"load": "loading", "analyse": "analysing", "measure": "measuring"}
    build(mlperf_models / "kws_ref_model.tflite", BuildOptions(target=load_target("cortex-m4")),
          recorder.passes(labels), recorder)
    stages = [d for kind, d in recorder.events if kind == "stage"]
    assert stages == ["loading", "analysing", "measuring"]
    probes = [d for kind, d in recorder.events if kind == "update"]
    assert probes[0].startswith("measuring the TFLM arena (allocation 1: ") and len(probes) >= 3


def test_keras_callback_counts_epochs_and_batches():
    import keras
    import numpy as np

    out = io.StringIO()
    progress = TerminalProgress(Console(file=out, force_terminal=True, width=120))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    with progress:
        model.fit(np.zeros((12, 4)), np.zeros((12, 2)), batch_size=4, epochs=2, verbose=0,
                  callbacks=[progress.keras_callback("fine-tuning")])
    text = out.getvalue()
    assert "fine-tuning: epoch 2/2" in text and "3/3" in text
    assert SILENT.keras_callback("fine-tuning") is None


def _run_with_terminal_stderr(*args: str) -> tuple[int, str, str]:
    """Run edgec with stderr on a pseudo-terminal (as in a shell) and stdout piped."""
    main, child = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "120", "TERM": "xterm"}
    try:
        with running([sys.executable, "-m", "toolchain.cli", *args], cwd=REPO, env=env,
                     stdout=subprocess.PIPE, stderr=child, stdin=subprocess.DEVNULL) as proc:
            os.close(child)
            child = None
            chunks = []
            while True:
                try:
                    data = os.read(main, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            stdout = proc.stdout.read().decode()
            proc.wait(timeout=120)
    finally:
        for fd in (main, child):
            if fd is not None:
                os.close(fd)
    return proc.returncode, stdout, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("quiet", [False, True])
def test_json_owns_stdout_and_the_bar_goes_to_the_terminal(mlperf_models, tmp_path, quiet):
    args = ["check", str(mlperf_models / "kws_ref_model.tflite"), "-t", "cortex-m4", "-o", str(tmp_path), "--json"]
    code, stdout, terminal = _run_with_terminal_stderr(*args, *(["--quiet"] if quiet else []))
    assert code == 0
    report = json.loads(stdout)  # nothing but the report
    assert report["command"] == "check" and report["arena"]["head_bytes"] == 16_000
    assert json.loads((tmp_path / "report.json").read_text()) == report
    if quiet:
        assert terminal == ""
    else:
        assert "writing report.json and report.html" in terminal


def test_piped_output_has_no_progress(mlperf_models):
    result = subprocess.run([sys.executable, "-m", "toolchain.cli", "check", str(mlperf_models / "kws_ref_model.tflite"),
                             "-t", "cortex-m4"], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("FITS  kws_ref_model (tflite) on cortex-m4 [tflm runtime]\n")
    assert "measuring the TFLM arena" not in result.stdout and "\x1b[" not in result.stdout
