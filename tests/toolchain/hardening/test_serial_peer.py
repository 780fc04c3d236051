"""A misbehaving device on the serial line: NaN results are mismatches, escape sequences never reach
the terminal, a closed port or a garbled answer is a device error (exit 4), never an internal one."""
from __future__ import annotations

import numpy as np
import pytest

from tests.toolchain.device.fake_dut import Faults, FakeDut
from toolchain.base.errors import EXIT_DEVICE, DeviceError
from toolchain.benchmark.compare import compare_outputs
from toolchain.device.eembc import EembcClient, GarbledAnswerError, PortClosedError, open_port, printable

DATA = bytes(range(100, 116))


def _session(faults: Faults):
    dut = FakeDut(faults).start()
    try:
        with EembcClient(open_port(dut.path), timeout_s=0.5, retries=1) as client:
            info = client.connect(boot_timeout_s=2)
            client.load(DATA)
            return info, client.infer(1, 0, timeout_s=1)
    finally:
        dut.stop()


def test_nan_and_infinite_results_are_mismatches():
    line = "m-results-[nan," + ",".join(["inf"] + [f"{b + 1}.000" for b in DATA[2:]]) + "]"
    _, answer = _session(Faults(results_line=line))
    device = np.array(answer.results)
    assert np.isnan(device[0]) and np.isinf(device[1])
    host = np.array([float(b + 1) for b in DATA])
    c = compare_outputs([device], [host], None, "results", tolerance=0.0005)
    assert (c.exact_match_rate, c.nonfinite_values, c.top1_agreement, c.cosine_similarity) == (0.0, 2, 0.0, 0.0)
    assert c.max_abs_diff == 0.0  # the finite values agree; the two others are counted apart
    all_nan = compare_outputs([np.full(16, np.nan)], [host], None, "raw")
    assert (all_nan.exact_match_rate, all_nan.nonfinite_values) == (0.0, 16)


def test_escape_sequences_from_the_device_are_shown_escaped():
    info, _ = _session(Faults(name="evil\x1b[2J\x1b]0;owned\x07"))
    assert info.name == "evil\\x1b[2J\\x1b]0;owned\\x07"
    assert printable("ok\ttab") == "ok\ttab"


def test_a_garbled_lap_is_a_device_error():
    with pytest.raises(GarbledAnswerError) as exc:
        _session(Faults(lap_line="m-lap-us-12x4"))
    assert exc.value.exit_code == EXIT_DEVICE
    assert exc.value.problem == "the device's answer to 'infer 1 0' is garbled: 'm-lap-us-12x4'"


def test_garbled_results_are_a_device_error():
    with pytest.raises(GarbledAnswerError, match=r"garbled: 'm-results-\[1\.0,zz\]'"):
        _session(Faults(results_line="m-results-[1.0,zz]"))


def test_a_port_that_closes_mid_run_is_a_device_error():
    with pytest.raises(PortClosedError) as exc:
        _session(Faults(close_on="infer"))
    assert exc.value.exit_code == EXIT_DEVICE
    assert exc.value.problem.startswith("the serial port closed or failed: ")


def test_a_device_giving_the_wrong_number_of_outputs_is_a_device_error():
    with pytest.raises(DeviceError, match="sample 0: the device gave 3 outputs, the model has 16"):
        compare_outputs([np.zeros(3)], [np.zeros(16)], None, "raw")


def test_bench_against_a_device_stuck_in_inference_fails_in_about_the_timeout(tmp_path):
    """`bench --timeout 1` against a device that never answers `infer`: the inference waits its
    estimated latency (ad01 on the M7: milliseconds, so the 1 s floor), is retried once after a
    resynchronisation, and the bench fails with a device error in seconds (it took 483 s)."""
    import time

    from click.testing import CliRunner

    from tests.conftest import MLPERF_TINY
    from toolchain.cli.bench import bench

    dut = FakeDut(Faults(hang_on="infer")).start()
    start = time.monotonic()
    try:
        result = CliRunner().invoke(bench, ["--target", "cortex-m7", "--port", dut.path, "--timeout", "1",
                                            "--model", str(MLPERF_TINY / "ad01_int8.tflite"), "-n", "1",
                                            "-o", str(tmp_path / "out")])
    finally:
        dut.stop()
    elapsed = time.monotonic() - start
    assert result.exit_code == EXIT_DEVICE, result.output
    assert "did not answer" in result.output
    assert [c for c in dut.commands if c.startswith("infer")] == ["infer 1 1"]  # stuck: resync fails, no retry
    assert elapsed < 12, elapsed  # 1 s of inference + at most 4 x (1 s + 0.1 s) of resync + connecting


def test_a_timed_out_inference_is_retried_once_only():
    """A device that answers everything but `infer`: resynchronised once, asked again once, then the error."""
    dut = FakeDut(Faults(ignore="infer")).start()
    try:
        with EembcClient(open_port(dut.path), timeout_s=0.5, retries=3) as client:
            client.connect(boot_timeout_s=2)
            client.load(DATA)
            with pytest.raises(DeviceError, match="did not answer 'infer 1 0' within 0.5 s"):
                client.infer(1, 0, timeout_s=0.5)
    finally:
        dut.stop()
    assert [c for c in dut.commands if c.startswith("infer")] == ["infer 1 0", "infer 1 0"]


def test_the_session_deadline_cuts_a_long_inference_timeout():
    import time

    from toolchain.device.eembc import SessionDeadline

    dut = FakeDut(Faults(hang_on="infer")).start()
    try:
        with EembcClient(open_port(dut.path), timeout_s=0.5, retries=1, deadline_s=3) as client:
            client.connect(boot_timeout_s=2)
            client.load(DATA)
            start = time.monotonic()
            with pytest.raises(SessionDeadline) as exc:
                client.infer(1, 0, timeout_s=60)
            waited = time.monotonic() - start
    finally:
        dut.stop()
    assert waited < 3.5 and exc.value.exit_code == EXIT_DEVICE  # the deadline, not the 60 s timeout
    assert exc.value.problem == "the session's deadline of 3 s passed while waiting for the answer to 'infer 1 0'"


def test_inference_timeout_follows_the_estimated_latency():
    from targets import load_target
    from toolchain.benchmark.run import inference_timeout_s

    m7, m0 = load_target("cortex-m7"), load_target("cortex-m0plus")
    assert (m7.clock_hz, m7.core_spec.cycles_per_mac_estimate) == (216_000_000, 1.0)
    # 21.6 M MACs: 0.1 s estimated on the M7, x10 slack, x2 with one warm-up inference
    assert inference_timeout_s(21_600_000, m7, False, 1.0, 2) == pytest.approx(2.0, rel=1e-12)
    assert inference_timeout_s(21_600_000, m7, False, 5.0, 2) == 5.0  # never below the per-answer timeout
    # emulated: QEMU's pace (2 us a MAC) dominates the M7's estimate
    assert inference_timeout_s(21_600_000, m7, True, 1.0, 1) == pytest.approx(43.2, rel=1e-12)
    assert inference_timeout_s(None, m7, False, 1.0) == 60.0  # no model: no MACs to estimate from
    slow = 4.0 / m0.clock_hz * 10  # seconds a MAC on the M0 profile, with slack
    assert inference_timeout_s(1_000_000, m0, False, 0.1) == pytest.approx(1_000_000 * slow, rel=1e-12)
