"""Instructions per inference, C engine (gcc -O2) vs the tflite-micro interpreter, by callgrind.

Both run the same model on the same input (seeded random int8) in this run. Only the inference is
counted: callgrind's --toggle-collect on the engine's `<name>_invoke` and on TFLM's
`MicroInterpreter::Invoke()`, so start-up, model parsing and allocation are excluded. Instruction
counts are deterministic. Target (issue 4): at most 0.5x on pretrainedResnet_quant.tflite.
Needs valgrind (Debian package `valgrind`); TFLM under valgrind takes ~25 s per model.

    .venv/bin/python bench/cengine_callgrind.py [--models pretrainedResnet_quant kws_ref_model ...] [--smoke]

--smoke counts one small model (ad01_int8), where no target applies.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MODELS = REPO / "tests" / "data" / "mlperf-tiny"
STEMS = ("pretrainedResnet_quant", "vww_96_int8", "kws_ref_model", "ad01_int8", "str_ww_ref_model")
SMOKE_STEMS = ["ad01_int8"]
NEEDS = ("valgrind", "cc", "nm")  # what tests/bench/test_smoke.py requires before running --smoke (bench/README.md)
TARGET = ("pretrainedResnet_quant", 0.5)
TFLM_SCRIPT = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
interpreter = runtime.Interpreter.from_file(sys.argv[1], arena_size=1 << 22)
details = interpreter.get_input_details(0)
x = np.fromfile(sys.argv[2], dtype=details["dtype"]).reshape(details["shape"])
interpreter.set_input(x, 0)
interpreter.invoke()
"""
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def callgrind(command: list[str], function: str, folder: Path) -> int:
    out = folder / "callgrind.out"
    result = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                             f"--toggle-collect={function}", *command], capture_output=True, text=True)
    match = _COLLECTED.search(result.stderr)
    if result.returncode != 0 or match is None:
        raise SystemExit(f"callgrind failed on {command[0]}:\n{result.stderr[-2000:]}")
    if int(match.group(1)) == 0:
        raise SystemExit(f"callgrind counted nothing in {function}: symbol not found?")
    return int(match.group(1))


def tflm_invoke_symbol() -> str:
    import tflite_micro

    library = next(Path(tflite_micro.__file__).parent.rglob("_runtime*.so"))
    symbols = subprocess.run(["nm", "-C", str(library)], capture_output=True, text=True).stdout
    for line in symbols.splitlines():
        name = line.split(" ", 2)[-1]
        if name.endswith("MicroInterpreter::Invoke()"):
            return name
    raise SystemExit(f"no MicroInterpreter::Invoke() in {library}")


def main() -> int:
    import numpy as np

    from firmware_export.cengine import compile_host, generate_engine
    from toolchain.base.tflite_reader import read_tflite_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(STEMS), choices=STEMS)
    parser.add_argument("--smoke", action="store_true", help="one small model: proves that the measurement runs")
    args = parser.parse_args()
    if args.smoke:
        args.models = SMOKE_STEMS
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian package valgrind)")
    symbol = tflm_invoke_symbol()
    print(f"{'model':<28}{'TFLM instr':>15}{'engine instr':>15}{'engine/TFLM':>13}")
    ok = True
    for stem in args.models:
        path = MODELS / f"{stem}.tflite"
        engine = generate_engine(read_tflite_file(path), stem, str(path))
        with tempfile.TemporaryDirectory(prefix="edgec_callgrind_") as tmp:
            folder = Path(tmp)
            host = compile_host(engine, folder / "engine", opt="-O2")
            x = np.random.default_rng(0).integers(-128, 128, engine.input_bytes).astype(np.int8)
            x.tofile(folder / "input.bin")
            ours = callgrind([str(host.executable), str(folder / "input.bin"), str(folder / "out.bin")],
                             f"{engine.name}_invoke", folder)
            (folder / "tflm.py").write_text(TFLM_SCRIPT)
            theirs = callgrind([sys.executable, str(folder / "tflm.py"), str(path), str(folder / "input.bin")],
                               symbol, folder)
        ratio = ours / theirs
        print(f"{stem:<28}{theirs:>15,}{ours:>15,}{ratio:>12.3f}x")
        if stem == TARGET[0]:
            met = ratio <= TARGET[1]
            ok &= met
            print(f"  target on {stem}: <= {TARGET[1]}x: {'met' if met else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
