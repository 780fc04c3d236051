"""The PLL, flash wait states and voltage scaling that bring the boards to their profiles' clocks
(firmware_export/firmware/clocks.py), against the reference manuals' tables written out here, and
what the start-up code gets of them. No board is attached here: these are static checks."""
from __future__ import annotations

import pytest

import targets
from firmware_export.firmware import FirmwareOptions, plan_sources
from firmware_export.firmware.clocks import (ClockError, rp2040, stm32f7, stm32f7_flash, stm32l4plus,
                                             stm32l4plus_flash)
from tests.firmware_export.firmware.conftest import tiny_model

M = 1_000_000
# RM0432 (STM32L4+), "Number of wait states according to CPU clock (HCLK) frequency": HCLK (Hz) ->
# wait states, at each boundary; Range 1 normal up to 80 MHz, boost mode above
L4P_WAIT_STATES = {20 * M: 0, 20 * M + 1: 1, 40 * M: 1, 40 * M + 1: 2, 60 * M: 2, 60 * M + 1: 3, 80 * M: 3,
                   80 * M + 1: 4, 100 * M: 4, 100 * M + 1: 5, 120 * M: 5}
# RM0385 (STM32F74x), the same table at 2.7 V to 3.6 V: 30 MHz a wait state, 216 MHz at most
F7_WAIT_STATES = {30 * M: 0, 30 * M + 1: 1, 60 * M: 1, 90 * M: 2, 120 * M: 3, 150 * M: 4, 180 * M: 5,
                  180 * M + 1: 6, 210 * M: 6, 210 * M + 1: 7, 216 * M: 7}


@pytest.mark.parametrize("hz, ws", sorted(L4P_WAIT_STATES.items()))
def test_stm32l4plus_wait_states_and_boost_follow_rm0432(hz, ws):
    assert stm32l4plus_flash(hz) == (ws, hz > 80 * M)


@pytest.mark.parametrize("hz, ws", sorted(F7_WAIT_STATES.items()))
def test_stm32f7_wait_states_and_over_drive_follow_rm0385(hz, ws):
    assert stm32f7_flash(hz) == (ws, hz > 180 * M)  # Scale 1 without over-drive: up to 180 MHz


def test_stm32l4plus_at_120_mhz_the_nucleo_l4r5zi_s_clock():
    plan = stm32l4plus(120_000_000)
    # HSI16 / 1 = 16 MHz (input 2.66..16 MHz), x 15 = 240 MHz (VCO 64..344 MHz), / 2 = 120 MHz
    assert {n: v for n, v, _ in plan.defines} == {"PLLM": 0, "PLLN": 15, "PLLR": 0, "FLASH_LATENCY": 5, "BOOST": 1}
    assert plan.reset_clock_hz == 16_000_000
    assert stm32l4plus(80_000_000).defines[:3] == (  # 80 MHz: VCO 160 MHz, Range 1 normal
        ("PLLM", 0, "PLLM field: /1, PLL input 16,000,000 Hz"), ("PLLN", 10, "x10: VCO 160,000,000 Hz"),
        ("PLLR", 0, "PLLR field: /2"))
    with pytest.raises(ClockError, match="above Range 1 boost mode's 120,000,000 Hz"):
        stm32l4plus(128_000_000)


def test_stm32f7_at_216_mhz_the_disco_s_clock():
    plan = stm32f7(216_000_000)
    # HSI / 8 = 2 MHz (VCO input 1..2 MHz), x 216 = 432 MHz (VCO 100..432 MHz), / 2 = 216 MHz;
    # APB1 <= 54 MHz: /4 (PPRE 101), APB2 <= 108 MHz: /2 (PPRE 100)
    assert {n: v for n, v, _ in plan.defines} == {"PLLM": 8, "PLLN": 216, "PLLP": 0, "FLASH_LATENCY": 7,
                                                   "OVERDRIVE": 1, "PPRE1": 5, "PPRE2": 4}
    with pytest.raises(ClockError):
        stm32f7(240_000_000)


def test_rp2040_at_133_mhz_the_pico_s_clock():
    # RP2040 datasheet, "PLL": 12 MHz x 133 = 1596 MHz (VCO 750..1600 MHz, FBDIV 16..320), / 6 / 2
    plan = rp2040(133_000_000)
    assert {n: v for n, v, _ in plan.defines} == {"PLL_FBDIV": 133, "PLL_POSTDIV1": 6, "PLL_POSTDIV2": 2}
    assert {n: v for n, v, _ in rp2040(125_000_000).defines} == {"PLL_FBDIV": 125, "PLL_POSTDIV1": 6,
                                                                 "PLL_POSTDIV2": 2}  # VCO 1500 MHz
    assert plan.reset_clock_hz == 12_000_000
    with pytest.raises(ClockError):
        rp2040(133_333_333)


@pytest.mark.parametrize("name, defines", [
    ("nucleo-l4r5zi", ("#define EDGEC_CORE_CLOCK_HZ 120000000u", "#define EDGEC_RESET_CLOCK_HZ 16000000u",
                       "#define EDGEC_CLK_PLLN 15u", "#define EDGEC_CLK_FLASH_LATENCY 5u", "#define EDGEC_CLK_BOOST 1u",
                       "#define EDGEC_UART_DIVISOR 35556u")),  # LPUART1 stays on HSI16: the same divisor
    ("stm32f746g-disco", ("#define EDGEC_CORE_CLOCK_HZ 216000000u", "#define EDGEC_RESET_CLOCK_HZ 16000000u",
                          "#define EDGEC_CLK_PLLN 216u", "#define EDGEC_CLK_OVERDRIVE 1u",
                          "#define EDGEC_UART_DIVISOR 139u")),  # USART1 on HSI
    ("rp2040-pico", ("#define EDGEC_CORE_CLOCK_HZ 133000000u", "#define EDGEC_RESET_CLOCK_HZ 12000000u",
                     "#define EDGEC_CLK_PLL_FBDIV 133u", "#define EDGEC_UART_DIVISOR 417u")),  # UART0 on XOSC
])
def test_the_start_up_code_gets_the_plan(name, defines):
    cfg = plan_sources(tiny_model().engine, targets.load_target(name), FirmwareOptions()).files["fw/edgec_config.h"]
    for line in defines:
        assert line in cfg, line
    assert "#define EDGEC_EMULATED 0 " in cfg
