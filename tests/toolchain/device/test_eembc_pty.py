"""The EEMBC client against a scripted device on a pseudo-terminal: faults of every kind end in
the right answer or in a clear DeviceError, never in a hang."""
from __future__ import annotations

import time

import pytest

from tests.toolchain.device.fake_dut import Faults, FakeDut
from toolchain.device.eembc import DeviceAnswerError, DeviceTimeout, EembcClient, open_port
from toolchain.base.errors import EXIT_DEVICE, DeviceError

DATA = bytes(range(100, 116))
PLUS_ONE = tuple(float((b + 1) % 256) for b in DATA)


@pytest.fixture
def device(request):
    dut = FakeDut(getattr(request, "param", None)).start()
    yield dut
    dut.stop()


def client_for(dut, timeout_s=1.0, retries=3):
    return EembcClient(open_port(dut.path), timeout_s=timeout_s, retries=retries)


def run_session(dut, **kw):
    with client_for(dut, **kw) as c:
        info = c.connect(boot_timeout_s=2)
        c.load(DATA)
        answer = c.infer(2, 1, timeout_s=2)
        return info, answer, c


def test_clean_session():
    dut = FakeDut().start()
    try:
        info, answer, _ = run_session(dut)
    finally:
        dut.stop()
    assert (info.name, info.firmware, info.model) == ("fake", "fake-1", "plus-one")
    assert answer.results == PLUS_ONE
    assert answer.lap_us == (1000, 1500)
    assert answer.elapsed_us == 500
    assert dut.commands == ["name", "name", "profile", "db load 16", "db " + DATA.hex(), "infer 2 1"]


@pytest.mark.parametrize("faults", [
    Faults(garbage_at_start=b"\x00\xff\xfe garbage \x13\r\n"),
    Faults(duplicate_ready=True),
    Faults(drop_byte_in_line={7, 9}),  # m-ready and m-[Expecting ...] lose a byte
    Faults(delay_s=0.0005),
    Faults(garbage_before_answer=b"noise\r\nm-rea"),
], ids=["garbage", "duplicated", "dropped", "delayed", "noise-mid-stream"])
def test_recovers_from_line_faults(faults):
    dut = FakeDut(faults).start()
    try:
        _, answer, _ = run_session(dut, timeout_s=0.5)
    finally:
        dut.stop()
    assert answer.results == PLUS_ONE


def test_reset_in_the_middle_of_db_loading_restarts_the_load():
    dut = FakeDut(Faults(reset_at_db_chunk=1)).start()
    try:
        with client_for(dut) as c:
            c.connect(boot_timeout_s=2)
            c.load(DATA)
            assert c.read_buffer() == DATA
            assert c.infer(1, 0, timeout_s=2).results == PLUS_ONE
    finally:
        dut.stop()
    assert dut.resets == 1
    assert dut.commands.count("db load 16") == 2


def test_error_answer_is_reported_with_the_last_lines():
    dut = FakeDut(Faults(error_on="infer")).start()
    try:
        with client_for(dut) as c:
            c.connect(boot_timeout_s=2)
            c.load(DATA)
            with pytest.raises(DeviceAnswerError) as err:
                c.infer(1, 0, timeout_s=2)
    finally:
        dut.stop()
    assert err.value.answer == "e-[infer failed on purpose]"
    assert "e-[infer failed on purpose]" in err.value.message
    assert "last lines from the device" in err.value.message
    assert err.value.exit_code == EXIT_DEVICE


def test_silent_device_times_out_quickly_with_a_clear_error():
    dut = FakeDut(Faults(silent=True)).start()
    start = time.monotonic()
    try:
        with client_for(dut, timeout_s=0.3, retries=1) as c:
            with pytest.raises(DeviceError) as err:
                c.connect(boot_timeout_s=0.5)
    finally:
        dut.stop()
    assert time.monotonic() - start < 10
    assert "did not answer" in err.value.message


def test_device_dropping_out_mid_run_is_an_error_with_its_last_words():
    dut = FakeDut(Faults(drop_out_on="infer")).start()
    try:
        with client_for(dut, timeout_s=0.3, retries=1) as c:
            c.connect(boot_timeout_s=2)
            c.load(DATA)
            with pytest.raises(DeviceError) as err:
                c.infer(1, 0, timeout_s=0.5)
    finally:
        dut.stop()
    assert "m-warmup-start-1" in err.value.last_lines
    assert isinstance(err.value, DeviceError)


def test_timeout_names_the_command():
    err = DeviceTimeout("infer 1 0", 2.0, ["m-warmup-start-0"])
    assert err.message.startswith("the device did not answer 'infer 1 0' within 2 s")
    assert "  m-warmup-start-0" in err.message


def test_missing_port_is_a_device_error():
    with pytest.raises(DeviceError, match="cannot open serial port /dev/does-not-exist"):
        open_port("/dev/does-not-exist")


def test_any_mlperf_tiny_firmware_is_driven_without_the_edgec_extensions():
    import numpy as np

    from toolchain.benchmark.device_run import run_samples

    dut = FakeDut().start()
    try:
        with client_for(dut) as c:
            info = c.connect(boot_timeout_s=2)
            inputs = np.array([list(DATA), list(DATA[::-1])], dtype=np.uint8)
            run = run_samples(c, info, inputs, runs=3, warmup=2, infer_timeout_s=2)
    finally:
        dut.stop()
    assert run.edgec is False and run.layers == () and run.stack_used_bytes is None
    assert [r.sample for r in run.records] == [0, 1, 0]
    assert [r.lap_us for r in run.records] == [250, 250, 250]
    assert run.records[1].results == tuple(float((b + 1) % 256) for b in DATA[::-1])
    assert "edgec-arena" in dut.commands  # asked once, answered e-[Unknown command], not retried
    assert dut.commands.count("edgec-arena") == 1
    assert [c for c in dut.commands if c.startswith("infer")] == ["infer 1 2", "infer 1 0", "infer 1 0"]
