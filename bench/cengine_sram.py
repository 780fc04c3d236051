"""SRAM of the generated C engine against TFLM's arena, over the five MLPerf Tiny int8 models.

TFLM figures are measured in the same run with the tflite-micro interpreter (smallest arena its
allocator accepts, 64-bit host, as `toolchain.arena` measures it); the engine's SRAM is its static
arena (every activation but the input, output included), its scratch, and the caller's input
buffer that the kernels read in place (TFLM's arena holds the input tensor, so it is counted). Targets (issue 4): the
engine total at most 0.62x the TFLM total, every model's arena at or below the live-tensor peak of its
own op order, and below it where ops run in place.

Patched columns (issue 15): the same engine generated with `--patch auto` (cengine/patch.py: the
first stage computed patch by patch): its arena, its SRAM and the ratio; targets: the patched
engine total at most 0.45x the TFLM total, and vww_96_int8's patched arena at most 18,500 B.
"MACs +" is what the recomputed halos add, as a fraction of the model's MACs. `--patch auto` also
plans a residual block (conv chain + the ADD of its input) as one stage, and runs pointwise
convolutions one row per call from their last row (output above input) where that lowers the arena:
"rev" counts them. In both columns the planner holds each op's kernel scratch inside the arena when
that makes arena + scratch smaller (the "scratch" column is then 0).

    .venv/bin/python bench/cengine_sram.py [--smoke]

--smoke measures one model (kws_ref_model) and judges the same targets on it alone.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MODELS = REPO / "tests" / "data" / "mlperf-tiny"
STEMS = ("pretrainedResnet_quant", "vww_96_int8", "kws_ref_model", "ad01_int8", "str_ww_ref_model")
SMOKE_STEMS = ("kws_ref_model",)
TARGET_RATIO = 0.62
TARGET_PATCHED_RATIO = 0.45
TARGET_VWW_ARENA = 18_500
NEEDS = ()  # what tests/bench/test_smoke.py requires before running --smoke (bench/README.md)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one model only: proves that the measurement runs")
    args = parser.parse_args(argv)

    from firmware_export.cengine import generate_engine
    from toolchain.arena import measure_arena
    from toolchain.base.tflite_reader import read_tflite

    header = (f"{'model':<28}{'TFLM total':>11}{'TFLM head':>11}{'live peak':>11}{'lower bnd':>11}"
              f"{'arena':>9}{'scratch':>9}{'input (caller)':>15}{'engine SRAM':>12}{'vs TFLM':>9}{'in place':>9}"
              f" |{'patched':>8}{'patches':>8}{'MACs +':>8}{'rev':>4}{'SRAM':>9}{'vs TFLM':>8}")
    print(header)
    print("-" * len(header))
    tflm_sum = engine_sum = patched_sum = 0
    all_below_peak = True
    vww_arena = None
    for stem in SMOKE_STEMS if args.smoke else STEMS:
        data = (MODELS / f"{stem}.tflite").read_bytes()
        arena = measure_arena(data)
        engine = generate_engine(read_tflite(data, stem), stem, f"{stem}.tflite")
        plan = engine.plan
        sram = engine.sram_bytes
        tflm_sum += arena.total_bytes
        engine_sum += sram
        all_below_peak &= engine.activation_bytes <= plan.live_peak_bytes
        patched = generate_engine(read_tflite(data, stem), stem, f"{stem}.tflite", patch="auto")
        stage = patched.patch
        patched_sum += patched.sram_bytes
        if stem == "vww_96_int8":
            vww_arena = patched.activation_bytes
        print(f"{stem:<28}{arena.total_bytes:>11,}{arena.head_bytes:>11,}{plan.live_peak_bytes:>11,}"
              f"{plan.lower_bound_bytes:>11,}{engine.activation_bytes:>9,}{engine.scratch_bytes:>9,}"
              f"{engine.caller_input_bytes:>15,}{sram:>12,}{sram / arena.total_bytes:>8.2f}x{len(plan.inplace):>9}"
              f" |{patched.activation_bytes:>8,}{stage.patches if stage else '-':>8}"
              f"{f'{100 * stage.overhead:.1f}%' if stage else '-':>8}{len(patched.reversed_ops):>4}"
              f"{patched.sram_bytes:>9,}"
              f"{patched.sram_bytes / arena.total_bytes:>7.2f}x")
    ratio = engine_sum / tflm_sum
    patched_ratio = patched_sum / tflm_sum
    print("-" * len(header))
    print(f"{'total':<28}{tflm_sum:>11,}{'':>66}{engine_sum:>12,}{ratio:>8.2f}x{'':>9} |{'':>28}{patched_sum:>9,}"
          f"{patched_ratio:>7.2f}x")
    print(f"engine/TFLM total: {ratio:.3f}x (target <= {TARGET_RATIO}x): {'met' if ratio <= TARGET_RATIO else 'MISSED'}")
    print(f"every arena at or below its live-tensor peak: {'yes' if all_below_peak else 'NO'}")
    ok = ratio <= TARGET_RATIO and all_below_peak
    print(f"patched engine/TFLM total: {patched_ratio:.3f}x (target <= {TARGET_PATCHED_RATIO}x): "
          f"{'met' if patched_ratio <= TARGET_PATCHED_RATIO else 'MISSED'}")
    ok &= patched_ratio <= TARGET_PATCHED_RATIO
    if vww_arena is not None:
        print(f"vww_96_int8 patched arena: {vww_arena:,} B (target <= {TARGET_VWW_ARENA:,} B): "
              f"{'met' if vww_arena <= TARGET_VWW_ARENA else 'MISSED'}")
        ok &= vww_arena <= TARGET_VWW_ARENA
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
