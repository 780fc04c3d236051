"""`edgec bench`: run a model on a device or an emulator and compare with the host."""
from toolchain.benchmark.report import BenchResult, render
from toolchain.benchmark.run import BenchOptions, build_for_model, run_bench

__all__ = ["BenchOptions", "BenchResult", "build_for_model", "render", "run_bench"]
