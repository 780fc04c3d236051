"""The firmware's generated files: linker script from the profile, configuration, determinism."""
from __future__ import annotations

import pytest

import targets
from firmware_export.firmware import FirmwareOptions, UnsupportedTargetError, plan_sources
from firmware_export.firmware.context import choose_timer, linker_context, render_linker
from toolchain.base.errors import OptionError


def test_linker_script_for_the_m55_places_code_weights_and_data():
    target = targets.load_target("cortex-m55")
    text = render_linker(linker_context(target, 4096))
    assert "    itcm (rx) : ORIGIN = 0x00000000, LENGTH = 524288\n" in text
    assert "    code_sram (rx) : ORIGIN = 0x01000000, LENGTH = 2097152\n" in text
    assert "    dtcm (rwx) : ORIGIN = 0x20000000, LENGTH = 524288\n" in text
    assert ".vectors : ALIGN(256) { KEEP(*(.vectors)) } > itcm" in text
    assert ".boot2 : { KEEP(*(.boot2)) } > itcm" in text
    assert "*(.rodata .rodata.*) } > code_sram" in text
    assert "} > dtcm AT > itcm" in text
    assert ". += 4096;" in text
    assert "$" not in text


def test_the_vector_table_is_aligned_as_vtor_requires():
    # 16 + 71 entries (LPUART1 is IRQ 70 on the L4R5): 348 bytes, so VTOR needs 512-byte alignment;
    # RP2040's UART0 is IRQ 20 (148 bytes): 256, where its boot2 expects the table (0x10000100)
    assert ".vectors : ALIGN(512)" in render_linker(linker_context(targets.load_target("nucleo-l4r5zi"), 4096))
    assert ".vectors : ALIGN(256)" in render_linker(linker_context(targets.load_target("rp2040-pico"), 4096))


def test_netduino_data_goes_to_the_arena_region_not_ccm():
    text = render_linker(linker_context(targets.load_target("netduinoplus2"), 2048))
    assert "    ccm (rwx) : ORIGIN = 0x10000000, LENGTH = 65536\n" in text
    assert "} > sram AT > flash" in text
    assert "> ccm" not in text


def test_sources_are_deterministic_and_complete(tiny):
    target = targets.load_target("netduinoplus2")
    a = plan_sources(tiny.engine, target, FirmwareOptions())
    b = plan_sources(tiny.engine, target, FirmwareOptions())
    assert a == b
    assert sorted(a.files) == [
        "engine/edgec_common.h", "engine/edgec_conv.c", "engine/edgec_conv.h", "engine/edgec_fc.c",
        "engine/edgec_fc.h", "engine/edgec_pool.c", "engine/edgec_pool.h", "engine/tiny.c", "engine/tiny.h",
        "firmware.ld", "fw/board_none.c", "fw/edgec_board.h",
        "fw/edgec_config.h", "fw/edgec_cortexm.h", "fw/edgec_model.h", "fw/edgec_timer.h", "fw/edgec_uart.h",
        "fw/harness.c", "fw/startup.c", "fw/timer_systick.c", "fw/uart_rx.c", "fw/uart_stm32.c"]
    cfg = a.files["fw/edgec_config.h"]
    assert "#define EDGEC_UART_BASE 0x40011000u\n" in cfg
    assert "#define EDGEC_UART_IRQ 37u /* the NVIC interrupt its receive raises */\n" in cfg  # USART1
    assert "#define EDGEC_UART_DIVISOR 1458u /* stm32-usart: 115,226 baud, +0.02% */\n" in cfg  # 168 MHz / 115200
    assert "#define EDGEC_CORE_CLOCK_HZ 168000000u" in cfg
    assert "#define EDGEC_TIMER_HZ 168000000u\n" in cfg
    assert '#define EDGEC_TIMER_NAME "systick"\n' in cfg
    assert "-mcpu=cortex-m4" in a.cflags and "-DEDGEC_LAYER_HOOK" in a.cflags
    assert all(a.files[f"engine/{name}"] == text for name, text in tiny.engine.files.items())
    assert '#include "tiny.h"\n' in a.files["fw/edgec_model.h"]


def test_real_boards_use_the_dwt_cycle_counter_at_the_clock_the_firmware_runs_them_at():
    # PLL1 brings the H743 to the profile's 480 MHz, the L4R5's PLL to its 120 MHz (the firmware
    # reports the clock it reached when that is less)
    assert choose_timer(targets.load_target("nucleo-h743zi"), FirmwareOptions()) == ("dwt", 480_000_000)
    assert choose_timer(targets.load_target("nucleo-l4r5zi"), FirmwareOptions()) == ("dwt", 120_000_000)
    assert choose_timer(targets.load_target("rp2040-pico"), FirmwareOptions()) == ("systick", 133_000_000)
    assert choose_timer(targets.load_target("cortex-m7"), FirmwareOptions()) == ("systick", 25_000_000)
    with pytest.raises(OptionError, match="has no DWT cycle counter"):
        choose_timer(targets.load_target("rp2040-pico"), FirmwareOptions(timer="dwt"))


def test_esp32_is_refused_the_firmware_is_cortex_m_only(tiny):
    with pytest.raises(UnsupportedTargetError, match="core xtensa-lx7 is not a Cortex-M: the benchmark "
                       "firmware .* is Cortex-M only"):
        plan_sources(tiny.engine, targets.load_target("esp32-s3-devkitc"), FirmwareOptions())


def test_bad_options():
    with pytest.raises(OptionError):
        FirmwareOptions(timer="rdtsc")
    with pytest.raises(OptionError):
        FirmwareOptions(stack_bytes=100)
