"""Reports: one typed result per command, rendered three ways from the same object.

    build, check    build_report.BuildReport         text: build_text.render_build
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
