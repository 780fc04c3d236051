"""The firmware's UART drivers and the baud-rate divisor each one's hardware takes.

The divisor is computed here, with the reference manual's formula, and handed to the C driver as
one number (EDGEC_UART_DIVISOR): so it is checked at build time (range, baud error) and by tests,
and the C drivers do no division.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

MAX_BAUD_ERROR = 0.02  # what both ends of an 8N1 link tolerate together, with a margin


class BaudError(ValueError):
    """The UART cannot make this baud rate from this clock."""


@dataclass(frozen=True)
class Divisor:
    value: int  # what the driver writes (its encoding is the driver's)
    actual_baud: float  # the rate the hardware really makes

    def error(self, baud: int) -> float:
        return self.actual_baud / baud - 1.0


def _round_div(num: int, den: int) -> int:
    """num / den rounded to the nearest integer, halves up (exact integer arithmetic)."""
    return (2 * num + den) // (2 * den)


def cmsdk_divisor(clock_hz: int, baud: int) -> Divisor:
    """Arm CMSDK APB UART: BAUDDIV = clock / baud, truncated, at least 16 (CMSDK TRM, APB UART)."""
    div = clock_hz // baud
    if div < 16 or div > 0xFFFFF:
        raise BaudError(f"BAUDDIV {div} outside 16..{0xFFFFF}")
    return Divisor(div, clock_hz / div)


def stm32_usart_divisor(clock_hz: int, baud: int) -> Divisor:
    """STM32 USART with 16x oversampling (OVER8 = 0), both register layouts: USARTDIV = fck / baud,
    and BRR holds it in 12.4 fixed point (F4: RM0090, USART "Fractional baud rate generation") or
    as an integer (F7: RM0385, H7: RM0433, L4+: RM0432, USART "Baud rate generation"), which is the
    same number: BRR = round(fck / baud). BRR must be at least 16."""
    brr = _round_div(clock_hz, baud)
    if brr < 16 or brr > 0xFFFF:
        raise BaudError(f"BRR {brr} outside 16..{0xFFFF}")
    return Divisor(brr, clock_hz / brr)


def stm32_lpuart_divisor(clock_hz: int, baud: int) -> Divisor:
    """STM32 LPUART: BRR = 256 * fck / baud (RM0432, LPUART "Baud rate generation"), from 0x300
    to 0xFFFFF, and fck must lie between 3 and 4096 times the baud rate."""
    if not 3 * baud <= clock_hz <= 4096 * baud:
        raise BaudError(f"the LPUART clock must be 3 to 4096 times the baud rate, is {clock_hz / baud:.1f}")
    brr = _round_div(256 * clock_hz, baud)
    if brr < 0x300 or brr > 0xFFFFF:
        raise BaudError(f"BRR 0x{brr:X} outside 0x300..0xFFFFF")
    return Divisor(brr, 256 * clock_hz / brr)


# nRF52840 UARTE BAUDRATE register values and the rates they make (nRF52840 Product Specification,
# UARTE register BAUDRATE): not a formula, a table of what the hardware supports.
NRF_UARTE_BAUDRATES = {
    1200: (0x0004_F000, 1205), 2400: (0x0009_D000, 2396), 4800: (0x0013_B000, 4808),
    9600: (0x0027_5000, 9598), 14400: (0x003A_F000, 14401), 19200: (0x004E_A000, 19208),
    28800: (0x0075_C000, 28777), 31250: (0x0080_0000, 31250), 38400: (0x009D_0000, 38369),
    56000: (0x00E5_0000, 55944), 57600: (0x00EB_0000, 57554), 76800: (0x013A_9000, 76923),
    115200: (0x01D6_0000, 115108), 230400: (0x03B0_0000, 231884), 250000: (0x0400_0000, 250000),
    460800: (0x0740_0000, 457143), 921600: (0x0F00_0000, 941176), 1000000: (0x1000_0000, 1000000),
}
NRF_UARTE_CLOCK_HZ = 16_000_000


def nrf_uarte_divisor(clock_hz: int, baud: int) -> Divisor:
    if clock_hz != NRF_UARTE_CLOCK_HZ:
        raise BaudError(f"the UARTE's baud generator runs at 16 MHz, not {clock_hz:,} Hz")
    if baud not in NRF_UARTE_BAUDRATES:
        raise BaudError("the UARTE supports " + ", ".join(str(b) for b in NRF_UARTE_BAUDRATES) + " baud")
    value, actual = NRF_UARTE_BAUDRATES[baud]
    return Divisor(value, float(actual))


# nRF51 UART BAUDRATE register values (nRF51 Series Reference Manual v3.0, UART register
# BAUDRATE). The manual lists the values, not the rates they make; the baud generator adds BAUDRATE
# to a 32-bit accumulator on each 16 MHz cycle, so the rate is BAUDRATE * 16 MHz / 2**32.
NRF51_UART_BAUDRATES = {
    1200: 0x0004_F000, 2400: 0x0009_D000, 4800: 0x0013_B000, 9600: 0x0027_5000, 14400: 0x003B_0000,
    19200: 0x004E_A000, 28800: 0x0075_F000, 38400: 0x009D_5000, 57600: 0x00EB_F000, 76800: 0x013A_9000,
    115200: 0x01D7_E000, 230400: 0x03AF_B000, 250000: 0x0400_0000, 460800: 0x075F_7000, 921600: 0x0EBE_DFA4,
    1000000: 0x1000_0000,
}
NRF51_UART_CLOCK_HZ = 16_000_000


def nrf51_uart_divisor(clock_hz: int, baud: int) -> Divisor:
    if clock_hz != NRF51_UART_CLOCK_HZ:
        raise BaudError(f"the nRF51 UART's baud generator runs at 16 MHz, not {clock_hz:,} Hz")
    if baud not in NRF51_UART_BAUDRATES:
        raise BaudError("the nRF51 UART supports " + ", ".join(str(b) for b in NRF51_UART_BAUDRATES) + " baud")
    value = NRF51_UART_BAUDRATES[baud]
    return Divisor(value, value * NRF51_UART_CLOCK_HZ / 2**32)


def pl011_divisor(clock_hz: int, baud: int) -> Divisor:
    """Arm PL011: BAUDDIV = UARTCLK / (16 * baud) as a 16.6 fixed-point number, IBRD the integer
    part and FBRD = round(fraction * 64) (PL011 TRM, "Fractional Baud Rate Register"; RP2040
    datasheet, UART "Baud Rate Calculation").
    Encoded as IBRD << 6 | FBRD, i.e. round(4 * UARTCLK / baud). IBRD from 1 to 65535."""
    div = _round_div(4 * clock_hz, baud)
    ibrd, fbrd = div >> 6, div & 0x3F
    if ibrd < 1 or ibrd > 0xFFFF or (ibrd == 0xFFFF and fbrd):
        raise BaudError(f"IBRD {ibrd} outside 1..65535")
    return Divisor(div, 4 * clock_hz / div)


@dataclass(frozen=True)
class UartDriver:
    name: str
    source: str  # file in firmware_export/firmware/src
    divisor: Callable[[int, int], Divisor]
    summary: str


UART_DRIVERS: dict[str, UartDriver] = {d.name: d for d in (
    UartDriver("cmsdk-uart", "uart_cmsdk.c", cmsdk_divisor, "Arm CMSDK APB UART (MPS2/MPS3)"),
    UartDriver("stm32-usart", "uart_stm32.c", stm32_usart_divisor, "STM32 USART, F1/F2/F4 layout (SR, DR)"),
    UartDriver("stm32-usart-v2", "uart_stm32v2.c", stm32_usart_divisor,
               "STM32 USART, F7/H7/L4 layout (ISR, RDR, TDR)"),
    UartDriver("stm32-lpuart", "uart_stm32v2.c", stm32_lpuart_divisor, "STM32 LPUART (ISR, RDR, TDR)"),
    UartDriver("nrf-uarte", "uart_nrf_uarte.c", nrf_uarte_divisor, "nRF52 UARTE with EasyDMA"),
    UartDriver("nrf51-uart", "uart_nrf51.c", nrf51_uart_divisor, "nRF51 UART (legacy: TXD/RXD registers, no DMA)"),
    UartDriver("pl011", "uart_pl011.c", pl011_divisor, "Arm PL011 (RP2040, Stellaris)"),
)}


def uart_divisor(driver: str, clock_hz: int, baud: int) -> Divisor:
    """The divisor for `baud` from `clock_hz`; BaudError when it cannot be made within 2 %."""
    div = UART_DRIVERS[driver].divisor(clock_hz, baud)
    if abs(div.error(baud)) > MAX_BAUD_ERROR:
        raise BaudError(f"{clock_hz:,} Hz makes {div.actual_baud:,.0f} baud, "
                        f"{div.error(baud):+.1%} from {baud:,}")
    return div
