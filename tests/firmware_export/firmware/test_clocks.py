"""The PLL, flash wait states and voltage scaling that bring the boards to their profiles' clocks
(firmware_export/firmware/clocks.py), against the reference manuals' tables written out here, and
what the start-up code gets of them. No board is attached here: these are static checks."""
from __future__ import annotations

import pytest

import targets
from firmware_export.firmware import FirmwareOptions, plan_sources
from firmware_export.firmware.clocks import (ClockError, rp2040, stm32f7, stm32f7_flash, stm32h7, stm32h7_flash,
                                             stm32l4plus, stm32l4plus_flash)
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


# RM0433 (STM32H743), "FLASH recommended number of wait states and programming delay": AXI clock
# (Hz) at each voltage scale -> (LATENCY, WRHIGHFREQ), at each boundary of the table
H7_WAIT_STATES = {
    0: {70 * M: (0, 0), 70 * M + 1: (1, 1), 140 * M: (1, 1), 140 * M + 1: (2, 1), 185 * M: (2, 1),
        185 * M + 1: (2, 2), 210 * M: (2, 2), 210 * M + 1: (3, 2), 225 * M: (3, 2), 225 * M + 1: (4, 2),
        240 * M: (4, 2)},
    1: {70 * M: (0, 0), 70 * M + 1: (1, 1), 140 * M: (1, 1), 185 * M: (2, 1), 185 * M + 1: (2, 2),
        210 * M: (2, 2), 210 * M + 1: (3, 2), 225 * M: (3, 2)},
    2: {55 * M: (0, 0), 55 * M + 1: (1, 1), 110 * M: (1, 1), 110 * M + 1: (2, 1), 165 * M: (2, 1),
        165 * M + 1: (3, 2), 225 * M: (3, 2)},
    3: {45 * M: (0, 0), 45 * M + 1: (1, 1), 90 * M: (1, 1), 90 * M + 1: (2, 1), 135 * M: (2, 1),
        135 * M + 1: (3, 2), 180 * M: (3, 2), 180 * M + 1: (4, 2), 225 * M: (4, 2)},
}
# DS12110 "General operating conditions": (CPU, AXI/AHB, APB) maxima at VOS0 (revision V) and VOS1
H7_LIMITS = {0: (480 * M, 240 * M, 120 * M), 1: (400 * M, 200 * M, 100 * M)}
H7_VCO_MAX = {0: 960 * M, 1: 836 * M}  # DS12110 "PLL characteristics", wide VCO (from 192 MHz)


@pytest.mark.parametrize("vos, hz, want", [(v, hz, w) for v, t in H7_WAIT_STATES.items() for hz, w in t.items()])
def test_stm32h7_wait_states_and_programming_delay_follow_rm0433(vos, hz, want):
    assert stm32h7_flash(hz, vos) == want


def test_stm32h7_wait_states_end_at_the_table_s_last_row():
    with pytest.raises(ClockError, match="above the 225,000,000 Hz AXI clock of VOS1"):
        stm32h7_flash(225 * M + 1, 1)
    with pytest.raises(ClockError, match="above the 240,000,000 Hz AXI clock of VOS0"):
        stm32h7_flash(240 * M + 1, 0)


def _h7_decoded(fields: dict[str, int], vos: int) -> tuple[int, int, int]:
    """(sys_ck, AXI, APB) from the register fields as RM0433 encodes them, checked against the
    manual's PLL ranges, DS12110's limits at this voltage scale and the flash table."""
    ref = 64 * M // fields["PLLM"]  # PLLSRC = HSI at /1
    assert 64 * M % fields["PLLM"] == 0 and 1 <= fields["PLLM"] <= 63
    assert {3: 8 * M <= ref <= 16 * M, 2: 4 * M <= ref <= 8 * M, 1: 2 * M <= ref <= 4 * M}[fields["PLLRGE"]]
    vco = ref * (fields["PLLN"] + 1)  # DIVN1 = N - 1, N 4..512
    assert 4 <= fields["PLLN"] + 1 <= 512 and 192 * M <= vco <= H7_VCO_MAX[vos]
    p = fields["PLLP"] + 1  # DIVP1 = P - 1; PLL1: even dividers only
    assert p % 2 == 0 and vco % p == 0
    sys_ck = vco // p
    hpre = {0: 1, 8: 2, 9: 4, 10: 8, 11: 16}[fields["HPRE"]]
    ppre = {0: 1, 4: 2, 5: 4, 6: 8, 7: 16}[fields["PPRE"]]
    axi, apb = sys_ck // hpre, sys_ck // hpre // ppre
    cpu_max, axi_max, apb_max = H7_LIMITS[vos]
    assert sys_ck <= cpu_max and axi <= axi_max and apb <= apb_max
    assert (fields["FLASH_LATENCY"], fields["WRHIGHFREQ"]) == next(
        w for hz, w in sorted(H7_WAIT_STATES[vos].items()) if axi <= hz)
    assert fields["VOS0"] == (vos == 0)
    return sys_ck, axi, apb


def test_stm32h7_at_480_mhz_the_nucleo_h743zi_s_clock_and_400_on_revision_y():
    plan = stm32h7(480 * M)
    fields = {n: v for n, v, _ in plan.defines}
    rev_v = {n: v for n, v in fields.items() if not n.startswith("REVY_")}
    rev_y = {n[5:]: v for n, v in fields.items() if n.startswith("REVY_") and n != "REVY_HZ"}
    # revision V: HSI / 4 = 16 MHz (8..16 MHz range), x 60 = 960 MHz (VCO 192..960 MHz at VOS0), / 2;
    # AXI/AHB /2 = 240 MHz, the APBs /2 = 120 MHz; 4 wait states, WRHIGHFREQ 2 at VOS0
    assert rev_v == {"VOS0": 1, "PLLM": 4, "PLLRGE": 3, "PLLN": 59, "PLLP": 1, "HPRE": 8, "PPRE": 4,
                     "FLASH_LATENCY": 4, "WRHIGHFREQ": 2}
    assert _h7_decoded(rev_v, 0) == (480 * M, 240 * M, 120 * M)
    # revision Y (or unknown): x 50 = 800 MHz (VCO up to 836 MHz), 400 MHz at VOS1; AXI 200 MHz,
    # 2 wait states with WRHIGHFREQ 2 (185..210 MHz row), the APBs at 100 MHz
    assert fields["REVY_HZ"] == 400 * M
    assert rev_y == {"VOS0": 0, "PLLM": 4, "PLLRGE": 3, "PLLN": 49, "PLLP": 1, "HPRE": 8, "PPRE": 4,
                     "FLASH_LATENCY": 2, "WRHIGHFREQ": 2}
    assert _h7_decoded(rev_y, 1) == (400 * M, 200 * M, 100 * M)
    assert (plan.core_clock_hz, plan.reset_clock_hz) == (480 * M, 64 * M)  # the fallback: HSI


def test_stm32h7_below_400_mhz_needs_no_vos0_and_above_480_is_refused():
    fields = {n: v for n, v, _ in stm32h7(400 * M).defines}
    assert fields["VOS0"] == 0 and all(fields[n] == fields[f"REVY_{n}"] for n in ("PLLN", "FLASH_LATENCY", "HPRE"))
    slow = {n: v for n, v, _ in stm32h7(200 * M).defines}  # AXI /1 at 200 MHz: 2 wait states, 185..210 row
    assert _h7_decoded({n: v for n, v in slow.items() if not n.startswith("REVY_")}, 1) == (200 * M, 200 * M,
                                                                                              100 * M)
    with pytest.raises(ClockError, match="above the STM32H743's 480,000,000 Hz at VOS0"):
        stm32h7(500 * M)
    with pytest.raises(ClockError, match="PLL1 cannot make 479,999,999 Hz"):
        stm32h7(480 * M - 1)


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
    ("nucleo-h743zi", ("#define EDGEC_CORE_CLOCK_HZ 480000000u", "#define EDGEC_RESET_CLOCK_HZ 64000000u",
                       "#define EDGEC_CLK_PLLN 59u", "#define EDGEC_CLK_VOS0 1u", "#define EDGEC_CLK_FLASH_LATENCY 4u",
                       "#define EDGEC_CLK_REVY_HZ 400000000u", "#define EDGEC_CLK_REVY_PLLN 49u",
                       "#define EDGEC_UART_DIVISOR 556u")),  # USART3 on hsi_ker_ck: the same divisor
    ("rp2040-pico", ("#define EDGEC_CORE_CLOCK_HZ 133000000u", "#define EDGEC_RESET_CLOCK_HZ 12000000u",
                     "#define EDGEC_CLK_PLL_FBDIV 133u", "#define EDGEC_UART_DIVISOR 417u")),  # UART0 on XOSC
])
def test_the_start_up_code_gets_the_plan(name, defines):
    cfg = plan_sources(tiny_model().engine, targets.load_target(name), FirmwareOptions()).files["fw/edgec_config.h"]
    for line in defines:
        assert line in cfg, line
    assert "#define EDGEC_EMULATED 0 " in cfg
