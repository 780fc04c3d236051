"""Packed weight storage on the emulated Cortex-M7: dense vs pruned / clustered / both.

For each model, the .tflite's conv / depthwise / FC filters are rewritten by
firmware_export.cengine.tflite_weights.compress_tflite_weights (magnitude pruning per tensor,
clustering per tensor then per-channel requantization, no fine-tuning: this measures storage,
speed and exactness only). The engine is generated with weights="dense" for the baseline and
"auto" otherwise, built for cortex-m7 and run under QEMU (-icount): instructions per inference,
stored weight bytes (the MAC layers' weights as stored, against their dense int8 bytes), flash and
SRAM from the ELF, byte-exact match with tflite-micro. --layers prints per-layer instructions.

Run: PYTHONPATH=. python bench/cengine_packed.py [--models pretrainedResnet_quant vww_96_int8] [--layers]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = (("dense", 0.0, 0), ("pruned75", 0.75, 0), ("clustered16", 0.0, 16), ("pruned75+clustered16", 0.75, 16))


def measure(data: bytes, name: str, weights: str, out: Path):
    import targets
    from firmware_export.cengine import generate_engine
    from firmware_export.firmware import FirmwareOptions, build_firmware
    from toolchain.benchmark import BenchOptions, run_bench
    from toolchain.tflite_reader import read_tflite

    path = out / f"{name}.tflite"
    path.write_bytes(data)
    target = targets.load_target("cortex-m7")
    engine = generate_engine(read_tflite(data, name), name, weights=weights)
    fw = build_firmware(engine, target, out / name, FirmwareOptions(model_label=path.name))
    result = run_bench(BenchOptions(target=target, emulate=True, model=path, firmware=fw.elf.parent, runs=2,
                                    warmup=0, limit=2, out_dir=out / name))
    return engine, fw, result


def main(argv=None) -> int:
    from firmware_export.cengine.tflite_weights import compress_tflite_weights

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["pretrainedResnet_quant", "vww_96_int8"])
    parser.add_argument("--dir", type=Path, default=ROOT.parent / "shared" / "models" / "mlperf-tiny")
    parser.add_argument("--layers", action="store_true")
    args = parser.parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="edgec-packed-"))
    for stem in args.models:
        source = (args.dir / f"{stem}.tflite").read_bytes()
        base = None
        for label, sparsity, clusters in VARIANTS:
            data = compress_tflite_weights(source, sparsity, clusters) if sparsity or clusters else source
            engine, fw, result = measure(data, f"{stem}_{label}".replace("+", "_").lower(),
                                         "dense" if label == "dense" else "auto", out)
            stored = sum(layer.stored_bytes for layer in engine.layers)
            dense = sum(layer.dense_bytes for layer in engine.layers)
            instr = result.per_inference.median
            base = base or (instr, fw.sram_used_bytes, {row.index: row.count for row in result.layers})
            formats = {}
            for layer in engine.layers:
                formats[layer.format] = formats.get(layer.format, 0) + 1
            print(f"{stem:24} {label:21} instr {instr:>12,.0f} ({instr / base[0]:.3f}x)  weights {stored:>8,} / "
                  f"{dense:>8,} B ({stored / dense:.3f}x)  flash {fw.flash_used_bytes:>8,}  SRAM {fw.sram_used_bytes:>7,} "
                  f"({fw.sram_used_bytes - base[1]:+})  exact {result.comparison.exact_match_rate:.0%}  {formats}",
                  flush=True)
            if args.layers:
                kind = {layer.op_index: layer.format for layer in engine.layers}
                for row in result.layers:
                    if row.index in kind:
                        print(f"    op {row.index:3} {row.op:18} {kind[row.index]:17} {row.count:>12,} "
                              f"({row.count / max(base[2].get(row.index, 1), 1):.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
