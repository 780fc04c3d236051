"""Real boards: the profile's [board] table checked against the start-up code, the configuration
each board gets, and what can be told without the hardware of the firmware built for it (built
warning-free, in the profile's memory map, vector table where the chip boots from)."""
from __future__ import annotations

import atexit
import functools
import shutil
import struct
import tempfile
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

import targets
from firmware_export.firmware import FirmwareOptions, UnsupportedTargetError, build_firmware, plan_sources
from firmware_export.firmware.boards import check_board
from firmware_export.firmware.boot2 import BOOT2_RUN_ADDRESS
from firmware_export.firmware.build import SRC
from firmware_export.firmware.elfsize import read_usage
from tests.conftest import require_tool
from tests.firmware_export.firmware.conftest import EMULATED_TARGETS, tiny_model
from toolchain.base.uf2 import parse_uf2
from toolchain.base.errors import FieldError

# name -> (where the chip takes its vector table at reset, the board set-up's BRR/BAUDRATE/divisor)
REAL_BOARDS = {
    "nucleo-l4r5zi": (0x0800_0000, 35556),  # LPUART: 256 * 16 MHz / 115200 = 35555.6
    "nucleo-h743zi": (0x0800_0000, 556),  # USART on hsi_ker_ck: 64 MHz / 115200 = 555.6
    "stm32f746g-disco": (0x0800_0000, 139),  # USART: 16 MHz / 115200 = 138.9
    "nrf52840-dk": (0x0000_0000, 0x01D6_0000),  # the PS's UARTE value for 115200
    "rp2040-pico": (0x1000_0100, 417),  # PL011: 4 * 12 MHz / 115200 = 416.7: IBRD 6, FBRD 33
}


def _engine():
    """The tiny model's generated engine (built once per session)."""
    return tiny_model().engine


@functools.lru_cache(maxsize=1)
def _builds():
    root = Path(tempfile.mkdtemp(prefix="edgec-boards-"))
    atexit.register(shutil.rmtree, root, True)
    return {name: build_firmware(_engine(), targets.load_target(name), root / name) for name in REAL_BOARDS}


@pytest.fixture(scope="module")
def boards():
    require_tool("arm-none-eabi-gcc")
    return _builds()


def _config(name: str) -> str:
    return plan_sources(_engine(), targets.load_target(name), FirmwareOptions()).files["fw/edgec_config.h"]


# ---- configuration (no compiler) --------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(REAL_BOARDS))
def test_each_board_gets_its_uart_divisor(name):
    assert f"#define EDGEC_UART_DIVISOR {REAL_BOARDS[name][1]}u " in _config(name)


def test_pins_reach_the_start_up_code():
    l4 = _config("nucleo-l4r5zi")
    assert "#define EDGEC_UART_TX_PORT 6u /* PG7 */\n#define EDGEC_UART_TX_PIN 7u\n" in l4
    assert "#define EDGEC_UART_RX_PORT 6u /* PG8 */\n#define EDGEC_UART_RX_PIN 8u\n" in l4
    assert "#define EDGEC_UART_PIN_FUNCTION 8u\n" in l4
    f7 = _config("stm32f746g-disco")
    assert "#define EDGEC_UART_TX_PORT 0u /* PA9 */" in f7 and "#define EDGEC_UART_RX_PORT 1u /* PB7 */" in f7
    nrf = _config("nrf52840-dk")
    assert "#define EDGEC_UART_TX_PIN 6u" in nrf and "#define EDGEC_UART_RX_PIN 8u" in nrf
    pico = _config("rp2040-pico")
    assert "#define EDGEC_UART_PIN_FUNCTION 2u" in pico and "#define EDGEC_CORE_CLOCK_HZ 133000000u" in pico


def test_the_rp2040_build_plans_its_second_stage_and_the_stm32_ones_their_drivers():
    pico = plan_sources(_engine(), targets.load_target("rp2040-pico"), FirmwareOptions())
    assert pico.boot2 == "fw/boot2_rp2040.S" and "fw/uart_pl011.c" in pico.files
    h7 = plan_sources(_engine(), targets.load_target("nucleo-h743zi"), FirmwareOptions())
    assert {"fw/board_stm32h7.c", "fw/uart_stm32v2.c", "fw/edgec_armv7m_cache.h"} <= set(h7.files)
    assert h7.boot2 == ""


def _variant(name: str, **board_fields):
    t = targets.load_target(name)
    return replace(t, board=replace(t.board, **board_fields))


def test_a_profile_cannot_claim_a_clock_the_start_up_code_does_not_set():
    slow = _variant("nucleo-l4r5zi", core_clock_hz=16_000_000)  # its PLL brings it to clock_hz
    with pytest.raises(UnsupportedTargetError, match="board.core_clock_hz is 16,000,000 Hz, but the "
                       "stm32l4plus set-up code leaves it at 120,000,000 Hz"):
        plan_sources(_engine(), slow, FirmwareOptions())
    slow_h7 = _variant("nucleo-h743zi", core_clock_hz=64_000_000)  # PLL1 brings it to 480 MHz
    with pytest.raises(UnsupportedTargetError, match="board.core_clock_hz is 64,000,000 Hz, but the "
                       "stm32h7 set-up code leaves it at 480,000,000 Hz"):
        plan_sources(_engine(), slow_h7, FirmwareOptions())
    fast = _variant("nrf52840-dk", core_clock_hz=128_000_000)  # 64 MHz is the nRF52840's only clock
    with pytest.raises(UnsupportedTargetError, match="board.core_clock_hz is 128,000,000 Hz, but the "
                       "nrf52840 set-up code leaves it at 64,000,000 Hz"):
        plan_sources(_engine(), fast, FirmwareOptions())
    too_fast = replace(targets.load_target("nucleo-l4r5zi"), clock_hz=130_000_000)
    with pytest.raises(UnsupportedTargetError, match="clock_hz 130,000,000 Hz: .* above Range 1 boost mode's "
                       "120,000,000 Hz"):
        plan_sources(_engine(), too_fast, FirmwareOptions())


def test_a_uart_the_set_up_does_not_clock_is_refused():
    other = replace(targets.load_target("nucleo-h743zi"), uart_base=0x4001_1000)
    with pytest.raises(UnsupportedTargetError, match="clocks and routes stm32-usart-v2 at 0x40004800, not "
                       "stm32-usart-v2 at 0x40011000"):
        plan_sources(_engine(), other, FirmwareOptions())


def test_a_real_board_without_a_board_table_is_refused_clearly():
    bare = replace(targets.load_target("nucleo-h743zi"), board=None)
    with pytest.raises(UnsupportedTargetError, match="no \\[board\\] table"):
        plan_sources(_engine(), bare, FirmwareOptions())


@pytest.mark.parametrize("name, fields, field", [
    ("nucleo-l4r5zi", {"uart_tx_pin": "PZ7"}, "board.uart_tx_pin"),
    ("nucleo-l4r5zi", {"uart_rx_pin": "PG16"}, "board.uart_rx_pin"),
    ("nucleo-l4r5zi", {"uart_pin_function": 16}, "board.uart_pin_function"),
    ("nrf52840-dk", {"uart_tx_pin": "P2.06"}, "board.uart_tx_pin"),
    ("nrf52840-dk", {"uart_pin_function": 1}, "board.uart_pin_function"),
    ("rp2040-pico", {"uart_rx_pin": "GP30"}, "board.uart_rx_pin"),
    ("rp2040-pico", {"setup": "rp2350"}, "board.setup"),
])
def test_bad_board_fields_are_profile_errors(name, fields, field):
    with pytest.raises(FieldError, match=f"field '{field}'"):
        plan_sources(_engine(), _variant(name, **fields), FirmwareOptions())


def test_a_baud_rate_the_uart_cannot_make_is_refused():
    slow = replace(targets.load_target("nrf52840-dk"), serial=replace(targets.load_target("nrf52840-dk").serial,
                                                                      baud=100_000))
    with pytest.raises(UnsupportedTargetError, match="nrf-uarte cannot run at 100,000 baud"):
        plan_sources(_engine(), slow, FirmwareOptions())


def test_every_built_in_target_plans_its_firmware_or_says_why_not():
    planned, refused = set(), {}
    for target in targets.all_targets():
        try:
            plan_sources(_engine(), target, FirmwareOptions())
            planned.add(target.name)
        except UnsupportedTargetError as exc:
            refused[target.name] = exc.problem
    assert set(REAL_BOARDS) | set(EMULATED_TARGETS) <= planned
    assert sorted(refused) == ["esp32-s3-devkitc"]  # Xtensa; every generic Cortex-M part has an emulator
    assert "Cortex-M only" in refused["esp32-s3-devkitc"]


def test_the_board_table_is_read_from_the_profile(tmp_path):
    text = (targets.BUILTIN_DIR / "nucleo-l4r5zi.toml").read_text()
    path = tmp_path / "l4.toml"
    path.write_text(text.replace('uart_rx_pin = "PG8"', 'uart_rx_pin = "PG8"\nuart_rx_pull = "up"'))
    with pytest.raises(FieldError, match="field 'board.uart_rx_pull'"):
        targets.load_target_file(path)
    board = targets.load_target("nucleo-l4r5zi").board
    assert (board.setup, board.core_clock_hz, board.uart_tx_pin, board.uart_pin_function) == \
        ("stm32l4plus", 120_000_000, "PG7", 8)


# ---- built firmware (arm-none-eabi-gcc) -------------------------------------------------------

def _symbols(elf_path: Path) -> dict[str, int]:
    with open(elf_path, "rb") as fh:
        symtab = ELFFile(fh).get_section_by_name(".symtab")
        return {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name}


@pytest.mark.parametrize("name", sorted(REAL_BOARDS))
def test_firmware_builds_without_warnings_inside_the_memory_map(boards, name):
    fw, target = boards[name], targets.load_target(name)
    assert fw.warnings == ()
    usage = read_usage(fw.elf, target)
    for section, address, size in usage.sections:  # every byte placed lies in one of the profile's regions
        assert any(r.contains(address, size) for r in target.memory), (section, hex(address), size)
    for region in usage.regions:
        assert region.used_bytes <= region.size_bytes
    assert fw.timer_hz == fw.core_clock_hz == target.board.core_clock_hz


@pytest.mark.parametrize("name", sorted(REAL_BOARDS))
def test_vector_table_is_where_the_chip_boots_from(boards, name):
    fw, target = boards[name], targets.load_target(name)
    vectors_at = REAL_BOARDS[name][0]
    sym = _symbols(fw.elf)
    assert sym["edgec_vectors"] == vectors_at
    flash_start = min(r.start for r in target.flash_regions)
    image = fw.bin.read_bytes()
    sp, reset = struct.unpack_from("<II", image, vectors_at - flash_start)
    assert sp == sym["__stack_top"] and target.arena_region.contains(sp - 8, 8) and sp % 8 == 0
    assert reset == sym["Reset_Handler"] | 1  # a Thumb address
    code = next(r for r in target.flash_regions if r.start == flash_start)
    assert code.contains(reset & ~1)


def _crc32_boot2_via_zlib(data: bytes) -> int:
    """The bootrom's CRC (MSB-first, init 0xFFFFFFFF, no final XOR) from zlib's reflected CRC-32:
    reflect every byte in, undo zlib's final XOR, reflect the result."""
    rev8 = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))
    return int(f"{zlib.crc32(data.translate(rev8)) ^ 0xFFFFFFFF:032b}"[::-1], 2)


def test_rp2040_image_starts_with_a_checksummed_boot2_that_enters_the_vector_table(boards):
    fw = boards["rp2040-pico"]
    image = fw.bin.read_bytes()
    assert _symbols(fw.elf)["edgec_boot2"] == 0x1000_0000
    boot2 = image[:256]
    assert struct.unpack("<I", boot2[252:])[0] == _crc32_boot2_via_zlib(boot2[:252])
    code = (fw.elf.parent / "boot2.bin").read_bytes()
    assert 0 < len(code) <= 252 and boot2[:len(code)] == code and boot2[len(code):252] == bytes(252 - len(code))
    with open(fw.elf.parent / "boot2.elf", "rb") as fh:  # assembled for where the bootrom runs it
        elf = ELFFile(fh)
        assert elf.get_section_by_name(".text")["sh_addr"] == BOOT2_RUN_ADDRESS
        assert elf.header["e_entry"] == BOOT2_RUN_ADDRESS | 1  # its first instruction, Thumb
    literals = struct.unpack_from(f"<{len(code) // 4}I", code[len(code) % 4:])
    assert 0x1000_0100 in literals and 0xE000_ED08 in literals  # the vector table, VTOR


def test_rp2040_uf2_holds_the_image_at_its_flash_addresses(boards):
    fw = boards["rp2040-pico"]
    blocks = parse_uf2(fw.uf2.read_bytes())
    image = fw.bin.read_bytes()
    assert [addr for addr, _, _ in blocks] == [0x1000_0000 + 256 * i for i in range(len(blocks))]
    assert {family for _, _, family in blocks} == {0xE48B_FF56}
    payload = b"".join(data for _, data, _ in blocks)
    assert payload[:len(image)] == image and payload[len(image):] == bytes(len(payload) - len(image))
    assert len(blocks) == (len(image) + 255) // 256


def test_boards_without_uf2_get_none(boards):
    assert boards["nucleo-h743zi"].uf2 is None and not (boards["nucleo-h743zi"].elf.parent / "firmware.uf2").exists()


def test_the_h743_firmware_carries_both_clock_settings_and_waits_only_boundedly(boards):
    """The start-up code's two ways to the clock (revision V, and Y or unknown), as compiled, are the
    plan's register fields; no wait in it can hang (an emulator or a chip whose PLL never locks falls
    back to HSI, EDGEC_RESET_CLOCK_HZ)."""
    fw, target = boards["nucleo-h743zi"], targets.load_target("nucleo-h743zi")
    fields = {n: v for n, v, _ in check_board(target).clock.defines}
    sym = _symbols(fw.elf)
    image, flash_start = fw.bin.read_bytes(), min(r.start for r in target.flash_regions)
    order = ("VOS0", "PLLM", "PLLRGE", "PLLN", "PLLP", "HPRE", "PPRE", "FLASH_LATENCY", "WRHIGHFREQ")
    for name, hz, prefix in (("rev_v", 480_000_000, ""), ("rev_y", 400_000_000, "REVY_")):
        words = struct.unpack_from("<10I", image, sym[name] - flash_start)
        assert words == (hz,) + tuple(fields[prefix + n] for n in order), name
    source = (SRC / "board_stm32h7.c").read_text()
    assert "while" not in source and "for (" not in source  # every wait is edgec_clock_wait's bounded one
    assert "return start_pll1(c) ? c->hz : EDGEC_RESET_CLOCK_HZ;" in source
