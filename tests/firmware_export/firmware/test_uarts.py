"""Baud-rate divisors against the reference manuals' formulas, and the RP2040 boot2 checksum."""
from __future__ import annotations

import zlib
from fractions import Fraction

import pytest

from firmware_export.firmware.boot2 import boot2_block, crc32_boot2, render_boot2_c
from firmware_export.firmware.uarts import (BaudError, Divisor, cmsdk_divisor, nrf51_uart_divisor,
                                            nrf_uarte_divisor, pl011_divisor, stm32_lpuart_divisor,
                                            stm32_usart_divisor, uart_divisor)


def _nearest(x: Fraction) -> int:
    return int(x + Fraction(1, 2))  # x > 0: halves up


@pytest.mark.parametrize("clock_hz, baud", [(16_000_000, 115_200), (120_000_000, 921_600), (32_768, 9_600),
                                            (80_000_000, 57_600)])
def test_lpuart_brr_is_256_fck_over_baud(clock_hz, baud):
    assert stm32_lpuart_divisor(clock_hz, baud).value == _nearest(Fraction(256 * clock_hz, baud))


def test_lpuart_known_values():
    assert stm32_lpuart_divisor(16_000_000, 115_200).value == 35556
    assert stm32_lpuart_divisor(32_768, 9_600).value == 874  # 873.8, from the 32.768 kHz LSE
    with pytest.raises(BaudError, match="3 to 4096 times"):
        stm32_lpuart_divisor(32_768, 115_200)


def test_usart_brr_is_fck_over_baud_for_16x_oversampling():
    assert stm32_usart_divisor(64_000_000, 115_200).value == 556
    assert stm32_usart_divisor(16_000_000, 115_200).value == 139
    assert stm32_usart_divisor(168_000_000, 115_200).value == 1458
    # RM0090's 12.4 fixed-point example: USARTDIV = 25.62 (fck / baud = 409.92) -> BRR 0x19A
    assert stm32_usart_divisor(40_992_000, 100_000).value == 0x19A
    with pytest.raises(BaudError, match="BRR 14"):
        stm32_usart_divisor(1_600_000, 115_200)


def test_pl011_divisor_is_the_trm_example():
    # PL011 TRM: UARTCLK 4 MHz, 230400 baud -> BAUDDIV 1.085, IBRD 1, FBRD 5 (divider 1 + 5/64)
    d = pl011_divisor(4_000_000, 230_400)
    assert (d.value >> 6, d.value & 63) == (1, 5)
    assert d.actual_baud == 4_000_000 / (16 * (1 + 5 / 64))
    d = pl011_divisor(12_000_000, 115_200)
    assert (d.value >> 6, d.value & 63) == (6, 33)
    with pytest.raises(BaudError, match="IBRD 0"):
        pl011_divisor(1_000_000, 115_200)


def test_nrf_uarte_uses_the_product_specification_table():
    assert nrf_uarte_divisor(16_000_000, 115_200).value == 0x01D6_0000
    assert nrf_uarte_divisor(16_000_000, 1_000_000).value == 0x1000_0000
    with pytest.raises(BaudError, match="supports"):
        nrf_uarte_divisor(16_000_000, 100_000)


def test_nrf51_uart_uses_the_reference_manual_table():
    """The legacy UART's BAUDRATE values are not the UARTE's (0x01D7E000, not 0x01D60000, at 115200)."""
    div = nrf51_uart_divisor(16_000_000, 115_200)
    assert div.value == 0x01D7_E000
    assert div.actual_baud == 0x01D7_E000 * 16_000_000 / 2**32
    assert nrf51_uart_divisor(16_000_000, 1_000_000) == Divisor(0x1000_0000, 1_000_000.0)
    with pytest.raises(BaudError, match="supports 1200, 2400"):
        nrf51_uart_divisor(16_000_000, 100_000)
    with pytest.raises(BaudError, match="16 MHz"):
        nrf51_uart_divisor(32_000_000, 115_200)


def test_cmsdk_truncates_and_a_far_baud_rate_is_refused():
    assert cmsdk_divisor(25_000_000, 115_200).value == 217
    with pytest.raises(BaudError, match=r"makes 117,647 baud, \+2\.1% from 115,200"):
        uart_divisor("cmsdk-uart", 2_000_000, 115_200)  # 17: 117,647 baud, +2.1 %


# ---- boot2 -------------------------------------------------------------------------------------

def test_boot2_crc_is_crc32_mpeg2():
    assert crc32_boot2(b"123456789") == 0x0376_E6E7  # the catalogued check value of CRC-32/MPEG-2
    rev8 = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))
    for data in (b"", b"\x00" * 252, bytes(range(252)), b"edgec" * 50):
        via_zlib = int(f"{zlib.crc32(data.translate(rev8)) ^ 0xFFFFFFFF:032b}"[::-1], 2)
        assert crc32_boot2(data) == via_zlib


def test_boot2_block_is_padded_and_checksummed():
    block = boot2_block(b"\x01\x02\x03")
    assert len(block) == 256 and block[:3] == b"\x01\x02\x03" and block[3:252] == bytes(249)
    assert int.from_bytes(block[252:], "little") == crc32_boot2(block[:252])
    with pytest.raises(ValueError, match="at most 252"):
        boot2_block(bytes(253))
    text = render_boot2_c(block)
    assert 'section(".boot2")' in text and text.count("0x") == 256 + 2  # the bytes; the address and CRC in the comment
