"""Reports: one typed result per command, rendered three ways from the same object.

    build, check   BuildReport (build_report.py)   text: build_text.render_build   JSON: .to_json()
    compress       CompressCommandReport (compress_report.py)
    bench          toolchain.benchmark.BenchResult
    HTML           toolchain.report_html.render_html(result), for build, check, compress and bench

The JSON rendering is the contract of docs/report-json.md (schema_version 1; keys only added).
"""
from toolchain.report.build_json import SCHEMA_VERSION, to_json
from toolchain.report.compress_report import CompressCommandReport
from toolchain.report.build_report import BuildReport, build_report, estimated_latency_s
from toolchain.report.build_text import render_build

__all__ = ["SCHEMA_VERSION", "BuildReport", "CompressCommandReport", "build_report", "estimated_latency_s", "render_build", "to_json"]
