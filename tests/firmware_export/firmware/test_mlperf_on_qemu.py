"""The firmware as MLPerf Tiny's official runner sees it, on the emulated Cortex-M7 with the
benchmark's own reference models: the benchmark id it answers, the reference encodings of the
runner's inputs (ic01: uint8 pixels minus 128; ad01: float32 features quantized on the device, one
reconstruction error as result), the refusal of an incomplete load, and m-lap-us on an emulated board.
Outputs are compared with the tflite-micro interpreter on the host, byte for byte."""
from __future__ import annotations

import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import targets
from tests.conftest import MLPERF_TINY, require_tool
from tests.firmware_export.firmware import runner_protocol as runner
from toolchain import mlperf
from toolchain.device.eembc import EembcClient, open_port
from toolchain.device.emulator import QemuRunner, instructions_from_ticks

TARGET = "cortex-m7"  # QEMU mps2-an500: SysTick at 25 MHz; the profile's clock is 216 MHz


@dataclass(frozen=True)
class Built:
    model: bytes
    engine: object
    firmware: object


@functools.lru_cache(maxsize=None)
def _build(file: str, benchmark: str) -> Built:
    from firmware_export.cengine import generate_engine
    from firmware_export.firmware import build_firmware
    from firmware_export.firmware.context import FirmwareOptions
    from toolchain.base.tflite_reader import read_tflite

    data = (MLPERF_TINY / file).read_bytes()
    name = Path(file).stem
    engine = generate_engine(read_tflite(data, name), name, file)
    folder = Path(tempfile.mkdtemp(prefix=f"edgec-mlperf-{benchmark}-"))
    import atexit

    atexit.register(shutil.rmtree, folder, True)
    fw = build_firmware(engine, targets.load_target(TARGET), folder, FirmwareOptions(model_label=file,
                                                                                      benchmark=benchmark))
    return Built(data, engine, fw)


@pytest.fixture(scope="module")
def ic01() -> Built:
    require_tool("arm-none-eabi-gcc")
    return _build("pretrainedResnet_quant.tflite", "ic01")


@pytest.fixture(scope="module")
def ad01() -> Built:
    require_tool("arm-none-eabi-gcc")
    return _build("ad01_int8.tflite", "ad01")


def _tflm(model: bytes, tensor: np.ndarray) -> np.ndarray:
    from toolchain.oracle import run_tflm

    return run_tflm(model, tensor[None]).reshape(-1).astype(np.int8)


def _printed(values: np.ndarray, quant: tuple[float, int]) -> tuple[float, ...]:
    real = (values.astype(np.float32) - np.float32(quant[1])) * np.float32(quant[0])
    return tuple(mlperf.printed_fixed3(v) for v in real)


def test_ic01_uint8_pixels_enter_the_model_minus_128_as_the_reference_decodes_them(ic01):
    require_tool("qemu-system-arm")
    shape = ic01.engine.input_shape
    pixels = np.random.default_rng(7).integers(0, 256, shape, dtype=np.uint8)
    pixels.reshape(-1)[:4] = (0, 127, 128, 255)
    tensor = (pixels.astype(np.int16) - 128).astype(np.int8)
    expected = _tflm(ic01.model, tensor)
    with QemuRunner("mps2-an500", ic01.firmware.elf) as q, EembcClient(open_port(q.url), timeout_s=5) as c:
        assert c.connect().model == "ic01"
        c.load(pixels.tobytes())
        assert c.read_buffer() == pixels.tobytes()  # the buffer holds what was sent; the tensor is decoded
        answer = c.infer(1, 0, timeout_s=60)
        assert c.raw_outputs() == expected.tobytes()
        assert answer.results == _printed(expected, ic01.engine.output_quant)
        assert mlperf.encode("ic01", tensor, ic01.engine.input_quant) == pixels.tobytes()


def test_ad01_float32_features_quantized_on_the_device_and_one_reconstruction_error(ad01):
    require_tool("qemu-system-arm")
    in_quant, out_quant = ad01.engine.input_quant, ad01.engine.output_quant
    n = int(np.prod(ad01.engine.input_shape))
    rng = np.random.default_rng(11)
    features = rng.normal(0.0, 12.0, n).astype("<f4")
    scale = np.float32(in_quant[0])
    features[:4] = (np.float32(2.5) * scale, np.float32(-3.5) * scale, 1e6, -1e6)  # halves; both clamps
    tensor = mlperf.quantize_features(features, in_quant)
    assert tensor[2] == 127 and tensor[3] == -128
    expected = _tflm(ad01.model, tensor)
    error = mlperf.reconstruction_error(features, expected, out_quant)
    with QemuRunner("mps2-an500", ad01.firmware.elf) as q, EembcClient(open_port(q.url), timeout_s=5) as c:
        assert c.connect().model == "ad01"
        c.load(features.tobytes())
        answer = c.infer(1, 0, timeout_s=30)
        assert c.raw_outputs() == expected.tobytes()  # the device quantized the features as the host did
        assert answer.results == (mlperf.printed_fixed3(error),)
        assert c.results() == answer.results


def test_an_incomplete_load_runs_nothing_and_says_so(ad01):
    require_tool("qemu-system-arm")
    n = int(np.prod(ad01.engine.input_shape))
    features = np.linspace(-5.0, 5.0, n, dtype="<f4").tobytes()
    refusal = [f"Input db has 100 elemented, expected {n}",
               "e-[infer: no whole input loaded (db load N, then N bytes); nothing run]", "m-ready"]
    with QemuRunner("mps2-an500", ad01.firmware.elf) as q, open_port(q.url) as port:
        host = runner.RunnerHost(port)
        host.wait_boot()
        assert host.send("infer 1 0") == [f"Input db has 0 elemented, expected {n}"] + refusal[1:]  # nothing loaded
        runner.download(host, features)
        assert runner.infer(host, 1, 0).results is not None
        host.send(f"db load {len(features)}")
        for i in range(0, 400, runner.CHUNK_BYTES):  # 100 of the 640 features, then no more
            host.send("db " + features[i:min(i + runner.CHUNK_BYTES, 400)].hex())
        assert host.send("infer 1 0") == refusal
        host.send(f"db load 8")
        assert host.send("db " + features[:8].hex()) == ["m-load-done", "m-ready"]
        assert host.send("infer 1 0")[0] == f"Input db has 2 elemented, expected {n}"  # complete, but short


def test_identity_lines_and_lap_time_at_the_profile_clock(ic01):
    require_tool("qemu-system-arm")
    target = targets.load_target(TARGET)
    pixels = np.full(ic01.engine.input_shape, 200, dtype=np.uint8)
    with QemuRunner("mps2-an500", ic01.firmware.elf) as q, EembcClient(open_port(q.url), timeout_s=5) as c:
        info = c.connect()
        assert info.name == "edgec pretrainedResnet_quant.tflite"
        assert info.model == "ic01"
        assert info.firmware == ("edgec-fw-1.0, emulated board (QEMU mps2-an500): m-lap-us from instructions "
                                 "at 216000000 Hz")
        c.load(pixels.tobytes())
        answer = c.infer(2, 0, timeout_s=60)
        ticks = int(c.timing()["ticks"])
    sysclk = 25_000_000
    # Each timestamp is floor(ticks * 1e15 / (sysclk * clock)); their difference is that of the
    # interval's ticks, or one more (two floors).
    exact_us = ticks * 10**15 // (sysclk * target.clock_hz)
    assert answer.elapsed_us in (exact_us, exact_us + 1)
    # `edgec bench`'s estimate of the same interval: instructions at the profile's clock
    bench_us = instructions_from_ticks(ticks, "mps2-an500") / target.clock_hz * 1e6
    assert abs(answer.elapsed_us - bench_us) < 1 + 1e6 / target.clock_hz
    assert answer.elapsed_us > 2 * 10_000  # ResNet-8 is millions of instructions: tens of ms at 216 MHz


def test_the_official_runners_sequence_against_the_emulated_firmware(ic01):
    """Identification, then the accuracy script (download, infer 1 0 per file), then a performance
    window (download, infer N W), each answer parsed by the runner's rules."""
    require_tool("qemu-system-arm")
    shape = ic01.engine.input_shape
    files = [np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8) for seed in (1, 2)]
    expected = [_printed(_tflm(ic01.model, (f.astype(np.int16) - 128).astype(np.int8)), ic01.engine.output_quant)
                for f in files]
    with QemuRunner("mps2-an500", ic01.firmware.elf) as q, open_port(q.url) as port:
        host = runner.RunnerHost(port)
        boot = host.wait_boot()  # the runner does not rely on the banner either (it sleeps, then asks)
        assert not boot or boot[-2:] == ["m-init-done", "m-ready"], (boot, host._pending)
        who = runner.identify(host)
        assert (who.name, who.model) == ("edgec pretrainedResnet_quant.tflite", "ic01")
        assert "emulated" in who.profile
        for data, want in zip(files, expected):  # accuracy mode
            assert runner.download(host, data.tobytes()) == ["m-load-done", "m-ready"]
            inference = runner.infer(host, 1, 0)
            assert inference.results == want
            assert inference.elapsed_us > 0
        runner.download(host, files[0].tobytes())  # performance mode, one window
        window = runner.infer(host, 3, 1)
        assert window.lines[:3] == ("m-warmup-start-1", "m-warmup-done", "m-infer-start-3")
        assert window.lines[-3:-1] == ("m-infer-done", f"m-results-[{','.join(f'{v:.3f}' for v in expected[0])}]")
        assert window.results == expected[0]
        throughput = 3 / (window.elapsed_us / 1e6)
        assert 1 < throughput < 1000
        assert host.send("frobnicate") == ["e-[Unknown command: frobnicate]", "m-ready"]
        listing = host.send("help")  # plain lines "command : what it does", as the reference lists them
        assert listing[0].startswith("edgec-fw-1.0 ") and listing[-1] == "m-ready"
        commands = [line.split(":")[0].split()[0] for line in listing[1:-1]]
        assert commands[:8] == ["help", "name", "profile", "timestamp", "db", "db", "db", "infer"]
        assert all(" : " in line or line.startswith("infer N [W=10]: ") for line in listing[1:-1])
