"""Start-up code for real boards: which C file sets up the clock and the UART pins, what clock it
really leaves the chip at, and how the profile's `[board]` table is checked against it.

The C files hold the register-level code; this registry states what each one does so that a
profile cannot claim a clock the code does not set (latency is cycles / that clock).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from firmware_export.firmware.clocks import PLANNERS, ClockError, ClockPlan, clock_plan
from targets import Board, TargetProfile
from toolchain.base.errors import FieldError


@dataclass(frozen=True)
class Pin:
    port: int  # STM32: 0 for A, 1 for B...; nRF: 0 or 1; RP2040: 0 (bank 0)
    number: int


@dataclass(frozen=True)
class BoardSetup:
    name: str
    source: str  # file in firmware_export/firmware/src
    summary: str  # what it does at start-up, for people
    cores: tuple[str, ...]
    uarts: dict[int, str]  # UART base address -> driver, the instances the code clocks and routes
    core_clock_hz: int  # what the code leaves the core running at; with a PLL (clocks.py): the
    # reset clock it falls back to, and the core runs at the profile's clock_hz when the PLL locks
    uart_clock_hz: int  # the UART kernel clock it selects
    uart_irq: int  # that UART's NVIC interrupt (IRQn), from the reference manual's vector table
    pin_pattern: str  # regular expression of a pin name; groups: port, number
    max_pin: int
    ports: str = ""  # STM32 port letters, in order
    pin_function: tuple[int, int] | None = None  # allowed range of uart_pin_function; None: none taken
    headers: tuple[str, ...] = ()  # the headers `source` includes besides the common ones
    boot2: str = ""  # a second-stage boot loader assembled on its own and placed first in flash

    def pin(self, text: str, path: str, field: str) -> Pin:
        m = re.fullmatch(self.pin_pattern, text)
        if not m:
            raise FieldError(path, field, f"a pin name of the {self.name} set-up ({self.pin_pattern})", text)
        port_text, number = m.group(1), int(m.group(2))
        port = self.ports.index(port_text) if self.ports else int(port_text or 0)
        if number > self.max_pin:
            raise FieldError(path, field, f"a pin number up to {self.max_pin}", text)
        return Pin(port, number)


_STM32 = dict(pin_pattern=r"P([A-K])(\d{1,2})", max_pin=15, ports="ABCDEFGHIJK", pin_function=(0, 15))
_M7_CACHES = ("edgec_stm32_gpio.h", "edgec_armv7m_cache.h")
_M7_PLL_HEADERS = _M7_CACHES + ("edgec_clock_wait.h",)

BOARD_SETUPS: dict[str, BoardSetup] = {s.name: s for s in (
    BoardSetup("stm32l4plus", "board_stm32l4plus.c",
               "STM32L4+ (RM0432): SYSCLK from the PLL on HSI16 (HSI16 if it does not lock), VDDIO2 on "
               "for port G, LPUART1 on HSI16",
               ("cortex-m4",), {0x4000_8000: "stm32-lpuart"}, 16_000_000, 16_000_000, uart_irq=70,  # LPUART1
               headers=("edgec_stm32_gpio.h", "edgec_clock_wait.h"), **_STM32),
    BoardSetup("stm32h7", "board_stm32h7.c",
               "STM32H743 (RM0433): LDO supply, VOS1 (VOS0 above 400 MHz on revision V), sys_ck from "
               "PLL1 on HSI (at most 400 MHz on revision Y; HSI 64 MHz if it does not lock), USART3 on "
               "hsi_ker_ck, L1 caches on",
               ("cortex-m7",), {0x4000_4800: "stm32-usart-v2"}, 64_000_000, 64_000_000, uart_irq=39,  # USART3
               headers=_M7_PLL_HEADERS, **_STM32),
    BoardSetup("stm32f7", "board_stm32f7.c",
               "STM32F746 (RM0385): SYSCLK from the PLL on HSI (HSI if it does not lock), USART1 on HSI, "
               "L1 caches on",
               ("cortex-m7",), {0x4001_1000: "stm32-usart-v2"}, 16_000_000, 16_000_000, uart_irq=37,  # USART1
               headers=_M7_PLL_HEADERS, **_STM32),
    BoardSetup("nrf52840", "board_nrf52840.c",
               "nRF52840: HFXO crystal started, CPU at 64 MHz, UARTE0 pins in GPIO as the PS asks",
               ("cortex-m4",), {0x4000_2000: "nrf-uarte"}, 64_000_000, 16_000_000, uart_irq=2,  # UARTE0_UART0
               pin_pattern=r"P([01])\.(\d{2})", max_pin=31),
    BoardSetup("rp2040", "board_rp2040.c",
               "RP2040: XOSC 12 MHz to clk_ref and clk_peri, clk_sys from PLL_SYS (XOSC if it does not "
               "lock), UART0 and IO out of reset",
               ("cortex-m0plus",), {0x4003_4000: "pl011"}, 12_000_000, 12_000_000, uart_irq=20,  # UART0_IRQ
               pin_pattern=r"GP()(\d{1,2})", max_pin=29, pin_function=(0, 31), boot2="boot2_rp2040.S",
               headers=("edgec_clock_wait.h",)),
)}


@dataclass(frozen=True)
class BoardConfig:
    """The checked board set-up of one target: what edgec_config.h tells the start-up code."""
    setup: BoardSetup
    tx: Pin
    rx: Pin
    pin_function: int
    clock: ClockPlan | None = None  # the PLL set-up that brings the core to the profile's clock_hz


class BoardMismatch(ValueError):
    """The profile's [board] table does not match what its set-up code does."""


def check_board(target: TargetProfile) -> BoardConfig:
    """The profile's [board] table, checked against its set-up code (FieldError on a bad field,
    BoardMismatch when the table and the code disagree)."""
    board: Board = target.board
    path = target.source or target.name
    if board.setup not in BOARD_SETUPS:
        raise FieldError(path, "board.setup", "one of " + ", ".join(sorted(BOARD_SETUPS)), board.setup)
    setup = BOARD_SETUPS[board.setup]
    if target.core not in setup.cores:
        raise BoardMismatch(f"the {setup.name} set-up is for {', '.join(setup.cores)}, not {target.core}")
    if setup.uarts.get(target.uart_base) != target.uart:
        known = ", ".join(f"{d} at 0x{b:08X}" for b, d in sorted(setup.uarts.items()))
        raise BoardMismatch(f"the {setup.name} set-up clocks and routes {known}, not "
                            f"{target.uart or 'no UART'} at 0x{target.uart_base:08X}")
    try:
        plan = clock_plan(setup.name, target.clock_hz) if setup.name in PLANNERS else None
    except ClockError as exc:
        raise BoardMismatch(f"clock_hz {target.clock_hz:,} Hz: {exc}") from None
    core = plan.core_clock_hz if plan else setup.core_clock_hz
    for field, have, want in (("core_clock_hz", board.core_clock_hz, core),
                              ("uart_clock_hz", board.uart_clock_hz, setup.uart_clock_hz)):
        if have != want:
            raise BoardMismatch(f"board.{field} is {have:,} Hz, but the {setup.name} set-up code "
                                f"leaves it at {want:,} Hz ({setup.summary})")
    tx = setup.pin(board.uart_tx_pin, path, "board.uart_tx_pin")
    rx = setup.pin(board.uart_rx_pin, path, "board.uart_rx_pin")
    if setup.pin_function is None:
        if board.uart_pin_function:
            raise FieldError(path, "board.uart_pin_function", f"nothing: {setup.name} pins are chosen "
                               "in the UART, not by an alternate function", board.uart_pin_function)
    elif not setup.pin_function[0] <= board.uart_pin_function <= setup.pin_function[1]:
        raise FieldError(path, "board.uart_pin_function", "an alternate function from "
                           f"{setup.pin_function[0]} to {setup.pin_function[1]}", board.uart_pin_function)
    return BoardConfig(setup=setup, tx=tx, rx=rx, pin_function=board.uart_pin_function, clock=plan)
