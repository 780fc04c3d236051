"""Device timings to cycles and milliseconds: at the clock the device says it runs at."""
from __future__ import annotations

import targets
from toolchain.benchmark.device_run import DeviceRun, RunRecord
from toolchain.benchmark.run import BenchOptions, _timing
from toolchain.device.eembc import DeviceInfo


def _run(ticks, timer, timer_hz, core_hz):
    records = tuple(RunRecord(sample=0, lap_us=None, ticks=t, raw=None, results=()) for t in ticks)
    return DeviceRun(info=DeviceInfo("edgec toy", "edgec-fw-1.0", "toy"), edgec=True, records=records,
                     timer=timer, timer_hz=timer_hz, core_hz=core_hz, layers=(), stack_used_bytes=None,
                     stack_size_bytes=None, arena_bytes=None)


def test_dwt_cycles_at_the_devices_clock_not_the_profiles():
    target = targets.load_target("nucleo-l4r5zi")  # 120 MHz part; its PLL did not lock: HSI16
    t = _timing(_run([1_600_000, 3_200_000], "dwt", 16_000_000, 16_000_000), BenchOptions(target=target, port="x"))
    assert t.unit == "cycles" and t.counts == [1_600_000, 3_200_000]
    assert t.latency_ms == [100.0, 200.0] and t.clock_hz == 16_000_000 and not t.estimate
    assert t.convert(16) == 16


def test_an_h743_of_revision_y_is_timed_at_the_400_mhz_it_reports_not_the_profiles_480():
    target = targets.load_target("nucleo-h743zi")  # 480 MHz on revision V; revision Y stops at 400 MHz
    t = _timing(_run([400_000_000], "dwt", 400_000_000, 400_000_000), BenchOptions(target=target, port="x"))
    assert (t.counts, t.latency_ms, t.clock_hz) == ([400_000_000], [1000.0], 400_000_000)
    assert target.clock_hz == 480_000_000


def test_firmware_that_does_not_report_core_hz_is_taken_at_its_timer_rate():
    target = targets.load_target("nucleo-h743zi")
    t = _timing(_run([64_000_000], "dwt", 64_000_000, None), BenchOptions(target=target, port="x"))
    assert (t.counts, t.latency_ms, t.clock_hz) == ([64_000_000], [1000.0], 64_000_000)


def test_emulated_systick_is_an_instruction_estimate_at_the_profile_clock():
    target = targets.load_target("cortex-m7")  # mps2-an500: SysTick at 25 MHz, 40 instructions a tick
    t = _timing(_run([250], "systick", 25_000_000, 25_000_000), BenchOptions(target=target, emulate=True))
    assert t.unit == "instructions" and t.counts == [10_000.0] and t.estimate
    assert t.latency_ms == [10_000 / 216_000_000 * 1e3] and t.clock_hz == 216_000_000
