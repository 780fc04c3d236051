"""Reports: one typed result per command, rendered three ways from the same object.

    build, check    build_result.BuildReport         text: build_text.render_build
    compress        compress_report.CompressCommandReport
    bench           toolchain.benchmark.BenchResult (device layer; rendered by the same HTML page)
    validate        toolchain.validate.ValidationResult
    inspect         inspect_report.InspectReport
    targets         targets_report.TargetList, TargetShow
    flash           flash_report.FlashReport

Each has `to_dict()` / `to_json()` (the JSON rendering: the contract of docs/report-json.md,
schema_version 1, keys only ever added) and a terminal rendering; build, check, compress and bench
also have an HTML page (toolchain.report_html.render_html). The modules are imported one by one so
that a light command (`edgec targets`) loads only its own.
"""

_EXPORTS = {"BuildReport": "build_result", "build_report": "build_result", "estimated_latency_s": "build_result",
            "render_build": "build_text", "SCHEMA_VERSION": "build_json", "to_json": "build_json"}


def __getattr__(name: str):
    """`from toolchain.report import build_report` loads its module then."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'toolchain.report' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"toolchain.report.{_EXPORTS[name]}"), name)
