"""Depthwise convolution layers on the emulated Cortex-M7 (QEMU -icount): instructions per MAC of
each DEPTHWISE_CONV_2D layer of the C engine's firmware (the per-layer counts of EDGEC_LAYER_HOOK),
and of the whole model, for the MobileNet-style MLPerf Tiny models (issue 15: <= 3 per layer).

Run: PYTHONPATH=. python bench/dwconv_layers.py [--models DIR] [--out DIR] [--smoke]
--smoke measures kws_ref_model.tflite alone.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS = ("kws_ref_model.tflite", "vww_96_int8.tflite")
MAX_PER_MAC = 3.0


def depthwise_rows(model_path: Path, out: Path) -> tuple[list[tuple], float, bool]:
    """([(op index, output shape, MACs, instructions, per MAC)], whole-model per MAC, byte-exact)."""
    from bench.device_qemu import build_and_bench
    from toolchain.analysis import analyse
    from toolchain.base.tflite_reader import read_tflite_file

    ops = {o.index: o for o in analyse(read_tflite_file(model_path)).ops}
    _, _, result = build_and_bench(model_path, out, runs=1)
    rows = [(row.index, ops[row.index].output_shape, ops[row.index].macs, row.count, row.count / ops[row.index].macs)
            for row in result.layers if row.op == "DEPTHWISE_CONV_2D"]
    return rows, result.per_mac, result.comparison.exact_match_rate == 1.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=ROOT / "tests" / "data" / "mlperf-tiny")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="kws_ref_model.tflite alone")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="edgec-dwconv-bench-"))
    ok = True
    for name in MODELS[:1] if args.smoke else MODELS:
        rows, whole, exact = depthwise_rows(args.models / name, out)
        print(f"{name}: whole model {whole:.3f} instructions/MAC, outputs byte-exact: {exact}")
        print(f"  {'op':>3} {'output':>18} {'MACs':>10} {'instructions':>13} {'instr/MAC':>9}")
        for index, shape, macs, count, per_mac in rows:
            print(f"  {index:>3} {str(shape):>18} {macs:>10,} {count:>13,} {per_mac:>9.2f}")
        worst = max(r[4] for r in rows)
        print(("PASS" if worst <= MAX_PER_MAC else "MISS") + f" {name}: worst depthwise layer {worst:.2f} "
              f"instructions/MAC <= {MAX_PER_MAC}")
        ok = ok and exact
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
