"""The PLL, flash wait states and voltage scaling that bring a board's core to its profile's
clock_hz, computed here from the reference manual's rules and tables (written as data below) and
handed to the board's start-up code as register field values (edgec_config.h), so that they are
checked at build time and by tests, and the C code does no arithmetic.

The start-up code waits for each lock or switch a bounded number of polls; when the PLL does not
lock it leaves the core on its reset clock and says so (m-profile-[...], edgec-timing core_hz).
"""
from __future__ import annotations

from dataclasses import dataclass


class ClockError(ValueError):
    """The set-up cannot make this clock."""


@dataclass(frozen=True)
class ClockPlan:
    core_clock_hz: int  # what the PLL gives the core
    reset_clock_hz: int  # what the core runs at when the PLL does not lock (the fallback)
    defines: tuple[tuple[str, int, str], ...]  # (EDGEC_CLK_name, value, why) for edgec_config.h
    summary: str

    def value(self, name: str) -> int:
        return next(v for n, v, _ in self.defines if n == name)


def _wait_states(hz: int, table: tuple[int, ...], what: str) -> int:
    """The fewest wait states whose maximum clock (table[ws]) is at least hz."""
    for ws, top in enumerate(table):
        if hz <= top:
            return ws
    raise ClockError(f"{hz:,} Hz is above {what}'s {table[-1]:,} Hz")


# ---- STM32L4+ (RM0432) ------------------------------------------------------------------------

L4P_HSI16_HZ = 16_000_000
# RM0432 "Number of wait states according to CPU clock (HCLK) frequency": the highest HCLK for
# 0, 1, 2... wait states, in Range 1 boost mode (R1MODE = 0) and Range 1 normal mode
L4P_FLASH_RANGE1_BOOST = (20_000_000, 40_000_000, 60_000_000, 80_000_000, 100_000_000, 120_000_000)
L4P_FLASH_RANGE1_NORMAL = (20_000_000, 40_000_000, 60_000_000, 80_000_000)
L4P_NORMAL_MAX_HZ = 80_000_000  # above this, Range 1 boost mode (RM0432 "Dynamic voltage scaling")
# RM0432 "RCC PLL configuration register": the PLL input after /M, the VCO, and /R's choices
L4P_PLL_IN_HZ = (2_660_000, 16_000_000)
L4P_VCO_HZ = (64_000_000, 344_000_000)
L4P_PLLN = (8, 127)
L4P_PLLR = (2, 4, 6, 8)  # PLLR field 0..3


def stm32l4plus_flash(hclk_hz: int) -> tuple[int, bool]:
    """(flash wait states, Range 1 boost mode) for this HCLK."""
    boost = hclk_hz > L4P_NORMAL_MAX_HZ
    table = L4P_FLASH_RANGE1_BOOST if boost else L4P_FLASH_RANGE1_NORMAL
    return _wait_states(hclk_hz, table, "Range 1 " + ("boost" if boost else "normal") + " mode"), boost


def stm32l4plus(clock_hz: int) -> ClockPlan:
    """SYSCLK = HSI16 / M * N / R from the main PLL, HCLK = SYSCLK (AHB /1), APB /1."""
    for r in L4P_PLLR:
        for m in range(1, 9):
            fin = L4P_HSI16_HZ // m
            if L4P_HSI16_HZ % m or not L4P_PLL_IN_HZ[0] <= fin <= L4P_PLL_IN_HZ[1]:
                continue
            vco = clock_hz * r
            if vco % fin or not L4P_VCO_HZ[0] <= vco <= L4P_VCO_HZ[1]:
                continue
            n = vco // fin
            if L4P_PLLN[0] <= n <= L4P_PLLN[1]:
                ws, boost = stm32l4plus_flash(clock_hz)
                return ClockPlan(clock_hz, L4P_HSI16_HZ, (
                    ("PLLM", m - 1, f"PLLM field: /{m}, PLL input {fin:,} Hz"),
                    ("PLLN", n, f"x{n}: VCO {vco:,} Hz"),
                    ("PLLR", L4P_PLLR.index(r), f"PLLR field: /{r}"),
                    ("FLASH_LATENCY", ws, f"{ws} wait states at {clock_hz:,} Hz"),
                    ("BOOST", int(boost), "Range 1 boost mode (PWR_CR5.R1MODE = 0)" if boost else "Range 1 normal"),
                ), f"HSI16 / {m} x {n} / {r} = {clock_hz:,} Hz, {ws} flash wait states"
                   + (", Range 1 boost" if boost else ""))
    raise ClockError(f"the STM32L4+ PLL cannot make {clock_hz:,} Hz from HSI16")


# ---- STM32F74x (RM0385) -----------------------------------------------------------------------

F7_HSI_HZ = 16_000_000
# RM0385 "Number of wait states according to CPU clock (HCLK) frequency", 2.7 V to 3.6 V
F7_FLASH_2V7 = (30_000_000, 60_000_000, 90_000_000, 120_000_000, 150_000_000, 180_000_000, 210_000_000,
                216_000_000)
F7_OVERDRIVE_ABOVE_HZ = 180_000_000  # Scale 1 without over-drive: up to 180 MHz ("Voltage regulator")
F7_PLL_IN_HZ = (1_000_000, 2_000_000)  # VCO input after /M; 2 MHz recommended (less jitter)
F7_VCO_HZ = (100_000_000, 432_000_000)
F7_PLLN = (50, 432)
F7_PLLP = (2, 4, 6, 8)  # PLLP field 0..3
F7_APB1_MAX_HZ = 54_000_000
F7_APB2_MAX_HZ = 108_000_000
APB_DIVIDERS = {1: 0, 2: 4, 4: 5, 8: 6, 16: 7}  # PPRE field values (RM0385, RM0432: the same)


def _apb_divider(hclk: int, top: int) -> int:
    return next(d for d in sorted(APB_DIVIDERS) if hclk // d <= top)


def stm32f7_flash(hclk_hz: int) -> tuple[int, bool]:
    """(flash wait states at 2.7-3.6 V, over-drive) for this HCLK."""
    return _wait_states(hclk_hz, F7_FLASH_2V7, "the STM32F7 at 2.7-3.6 V"), hclk_hz > F7_OVERDRIVE_ABOVE_HZ


def stm32f7(clock_hz: int) -> ClockPlan:
    """SYSCLK = HSI / M * N / P, M for a 2 MHz VCO input; APB1 and APB2 divided to their limits."""
    m = F7_HSI_HZ // F7_PLL_IN_HZ[1]
    fin = F7_HSI_HZ // m
    for p in F7_PLLP:
        vco = clock_hz * p
        if vco % fin or not F7_VCO_HZ[0] <= vco <= F7_VCO_HZ[1]:
            continue
        n = vco // fin
        if not F7_PLLN[0] <= n <= F7_PLLN[1]:
            continue
        ws, overdrive = stm32f7_flash(clock_hz)
        apb1, apb2 = _apb_divider(clock_hz, F7_APB1_MAX_HZ), _apb_divider(clock_hz, F7_APB2_MAX_HZ)
        return ClockPlan(clock_hz, F7_HSI_HZ, (
            ("PLLM", m, f"/{m}: VCO input {fin:,} Hz"),
            ("PLLN", n, f"x{n}: VCO {vco:,} Hz"),
            ("PLLP", F7_PLLP.index(p), f"PLLP field: /{p}"),
            ("FLASH_LATENCY", ws, f"{ws} wait states at {clock_hz:,} Hz, 2.7-3.6 V"),
            ("OVERDRIVE", int(overdrive), "over-drive on (above 180 MHz)" if overdrive else "no over-drive"),
            ("PPRE1", APB_DIVIDERS[apb1], f"APB1 /{apb1}: {clock_hz // apb1:,} Hz"),
            ("PPRE2", APB_DIVIDERS[apb2], f"APB2 /{apb2}: {clock_hz // apb2:,} Hz"),
        ), f"HSI / {m} x {n} / {p} = {clock_hz:,} Hz, {ws} flash wait states"
           + (", over-drive" if overdrive else "") + f", APB1 /{apb1}, APB2 /{apb2}")
    raise ClockError(f"the STM32F7 PLL cannot make {clock_hz:,} Hz from HSI")


# ---- STM32H743 (RM0433 rev 8, datasheet DS12110) ----------------------------------------------

H7_HSI_HZ = 64_000_000  # HSI at HSIDIV /1: the reset clock, and PLL1's source here
H7_REV_V = 0x2003  # DBGMCU_IDC.REV_ID of revision V, the one that runs 480 MHz at VOS0
H7_REV_Y_MAX_HZ = 400_000_000  # revision Y (0x1003), or a revision not known here: VOS1 at most
# DS12110 "General operating conditions": the highest CPU (sys_d1cpre_ck), AXI/AHB (rcc_hclk) and
# APB clocks at each voltage scale (VOS0: revision V only)
H7_VOS_LIMITS = {0: (480_000_000, 240_000_000, 120_000_000), 1: (400_000_000, 200_000_000, 100_000_000),
                 2: (300_000_000, 150_000_000, 75_000_000), 3: (200_000_000, 100_000_000, 50_000_000)}
# RM0433 "FLASH recommended number of wait states and programming delay": at each voltage scale,
# rows of (the highest AXI clock, LATENCY, WRHIGHFREQ)
H7_FLASH = {
    0: ((70_000_000, 0, 0), (140_000_000, 1, 1), (185_000_000, 2, 1), (210_000_000, 2, 2), (225_000_000, 3, 2),
        (240_000_000, 4, 2)),
    1: ((70_000_000, 0, 0), (140_000_000, 1, 1), (185_000_000, 2, 1), (210_000_000, 2, 2), (225_000_000, 3, 2)),
    2: ((55_000_000, 0, 0), (110_000_000, 1, 1), (165_000_000, 2, 1), (225_000_000, 3, 2)),
    3: ((45_000_000, 0, 0), (90_000_000, 1, 1), (135_000_000, 2, 1), (180_000_000, 3, 2), (225_000_000, 4, 2)),
}
# RM0433 "PLL" and "RCC PLLs configuration register": ref1_ck = HSI / DIVM1 (1..63), for the wide
# VCO (PLL1VCOSEL = 0) 2..16 MHz in the PLL1RGE range it lies in; DIVN1 4..512; PLL1's DIVP even
H7_PLL1RGE = ((8_000_000, 16_000_000, 3), (4_000_000, 8_000_000, 2), (2_000_000, 4_000_000, 1))
H7_DIVM1 = (1, 63)
H7_DIVN1 = (4, 512)
H7_DIVP1 = tuple(range(2, 129, 2))
# DS12110 "PLL characteristics", wide VCO: 192..836 MHz, up to 960 MHz on revision V at VOS0
H7_VCO_HZ = {0: (192_000_000, 960_000_000), 1: (192_000_000, 836_000_000)}
H7_HPRE = {1: 0, 2: 8, 4: 9, 8: 10, 16: 11, 64: 12, 128: 13, 256: 14, 512: 15}  # HPRE field values
# D1PPRE (APB3), D2PPRE1 (APB1), D2PPRE2 (APB2), D3PPRE (APB4) field values: those of APB_DIVIDERS


def stm32h7_flash(axi_hz: int, vos: int) -> tuple[int, int]:
    """(LATENCY, WRHIGHFREQ) for this AXI clock at this voltage scale."""
    for top, latency, wrhighfreq in H7_FLASH[vos]:
        if axi_hz <= top:
            return latency, wrhighfreq
    raise ClockError(f"{axi_hz:,} Hz is above the {H7_FLASH[vos][-1][0]:,} Hz AXI clock of VOS{vos}")


def _stm32h7_setting(clock_hz: int, vos: int) -> tuple[tuple[tuple[str, int, str], ...], str]:
    """The PLL1, prescalers and flash settings for sys_ck = clock_hz at this voltage scale."""
    cpu_max, axi_max, apb_max = H7_VOS_LIMITS[vos]
    if clock_hz > cpu_max:
        raise ClockError(f"{clock_hz:,} Hz is above the STM32H743's {cpu_max:,} Hz at VOS{vos}")
    hpre = next(d for d in sorted(H7_HPRE) if clock_hz // d <= axi_max)
    axi = clock_hz // hpre
    ppre = _apb_divider(axi, apb_max)
    latency, wrhighfreq = stm32h7_flash(axi, vos)
    vco_lo, vco_hi = H7_VCO_HZ[vos]
    for p in H7_DIVP1:
        vco = clock_hz * p
        if not vco_lo <= vco <= vco_hi:
            continue
        for m in range(H7_DIVM1[0], H7_DIVM1[1] + 1):
            ref = H7_HSI_HZ // m
            rng = next(((lo, hi, r) for lo, hi, r in H7_PLL1RGE if lo <= ref <= hi), None)
            if H7_HSI_HZ % m or rng is None or vco % ref or not H7_DIVN1[0] <= vco // ref <= H7_DIVN1[1]:
                continue
            n, (lo, hi, rge) = vco // ref, rng
            return (
                ("VOS0", int(vos == 0), "VOS0 (SYSCFG_PWRCR.ODEN) on VOS1" if vos == 0 else "VOS1"),
                ("PLLM", m, f"DIVM1 /{m}: ref1_ck {ref:,} Hz"),
                ("PLLRGE", rge, f"PLL1RGE: ref1_ck in {lo:,}..{hi:,} Hz"),
                ("PLLN", n - 1, f"DIVN1 field: x{n}, VCO {vco:,} Hz (wide range, PLL1VCOSEL = 0)"),
                ("PLLP", p - 1, f"DIVP1 field: /{p}"),
                ("HPRE", H7_HPRE[hpre], f"HPRE /{hpre}: AXI and AHB {axi:,} Hz"),
                ("PPRE", APB_DIVIDERS[ppre], f"D1PPRE, D2PPRE1, D2PPRE2, D3PPRE /{ppre}: APB {axi // ppre:,} Hz"),
                ("FLASH_LATENCY", latency, f"{latency} wait states at AXI {axi:,} Hz, VOS{vos}"),
                ("WRHIGHFREQ", wrhighfreq, f"programming delay {wrhighfreq}"),
            ), (f"HSI / {m} x {n} / {p} = {clock_hz:,} Hz at VOS{vos}, AXI /{hpre}, APB /{ppre}, "
                f"{latency} flash wait states")
    raise ClockError(f"PLL1 cannot make {clock_hz:,} Hz from HSI at VOS{vos}")


def stm32h7(clock_hz: int) -> ClockPlan:
    """sys_ck = HSI / DIVM1 * DIVN1 / DIVP1 from PLL1, the CPU at sys_ck (D1CPRE /1), AXI/AHB and
    the APBs divided to their limits: at VOS1 up to 400 MHz, above at VOS0 (revision V). A second
    setting (REVY_*) is what revision Y, or a revision the firmware does not know, runs instead:
    the clock capped at 400 MHz, at VOS1."""
    main, summary = _stm32h7_setting(clock_hz, 1 if clock_hz <= H7_REV_Y_MAX_HZ else 0)
    revy_hz = min(clock_hz, H7_REV_Y_MAX_HZ)
    revy, revy_summary = _stm32h7_setting(revy_hz, 1)
    return ClockPlan(clock_hz, H7_HSI_HZ, main + (("REVY_HZ", revy_hz, "the clock on revision Y (or unknown)"),) +
                     tuple((f"REVY_{n}", v, why) for n, v, why in revy),
                     f"{summary} (revision V; other revisions {revy_summary})")


# ---- RP2040 (RP2040 datasheet, "PLL") ---------------------------------------------------------

RP2040_XOSC_HZ = 12_000_000  # the Pico's crystal; REFDIV = 1
RP2040_VCO_HZ = (750_000_000, 1_600_000_000)
RP2040_FBDIV = (16, 320)
RP2040_POSTDIV = (1, 7)


def rp2040(clock_hz: int) -> ClockPlan:
    """clk_sys = XOSC * FBDIV / (POSTDIV1 * POSTDIV2) from PLL_SYS: of the settings that make the
    clock exactly, the highest VCO (less jitter), then the larger POSTDIV1 (the datasheet's advice)."""
    found = []
    for pd1 in range(RP2040_POSTDIV[0], RP2040_POSTDIV[1] + 1):
        for pd2 in range(RP2040_POSTDIV[0], pd1 + 1):
            vco = clock_hz * pd1 * pd2
            if vco % RP2040_XOSC_HZ or not RP2040_VCO_HZ[0] <= vco <= RP2040_VCO_HZ[1]:
                continue
            fbdiv = vco // RP2040_XOSC_HZ
            if RP2040_FBDIV[0] <= fbdiv <= RP2040_FBDIV[1]:
                found.append((vco, pd1, pd2, fbdiv))
    if not found:
        raise ClockError(f"PLL_SYS cannot make {clock_hz:,} Hz from the 12 MHz crystal")
    vco, pd1, pd2, fbdiv = max(found)
    return ClockPlan(clock_hz, RP2040_XOSC_HZ, (
        ("PLL_FBDIV", fbdiv, f"x{fbdiv}: VCO {vco:,} Hz"),
        ("PLL_POSTDIV1", pd1, f"/{pd1}"),
        ("PLL_POSTDIV2", pd2, f"/{pd2}"),
    ), f"XOSC x {fbdiv} / {pd1} / {pd2} = {clock_hz:,} Hz")


PLANNERS = {"stm32l4plus": stm32l4plus, "stm32f7": stm32f7, "stm32h7": stm32h7, "rp2040": rp2040}


def clock_plan(setup: str, clock_hz: int) -> ClockPlan | None:
    """The plan of a board set-up that starts a PLL; None for one that does not (its reset clock)."""
    planner = PLANNERS.get(setup)
    return planner(clock_hz) if planner else None
