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
