"""Target profiles: built-ins load and validate; bad profiles get errors naming file and field."""
from __future__ import annotations

import pytest

import targets
from toolchain.base.errors import FieldError, UnknownNameError

REQUIRED = ("cortex-m0plus", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "nucleo-l4r5zi",
            "nucleo-h743zi", "stm32f746g-disco", "nrf52840-dk", "rp2040-pico", "esp32-s3-devkitc",
            "netduinoplus2")

GOOD = """
name = "my-board"
core = "cortex-m4"
cflags = ["-mcpu=cortex-m4"]
clock_hz = 80_000_000
flasher = "none"
[[memory]]
name = "flash"
kind = "flash"
start = 0x08000000
size_bytes = 524288
[[memory]]
name = "sram"
kind = "ram"
start = 0x20000000
size_bytes = {sram}
[reserves]
runtime_flash_bytes = 1
app_flash_bytes = 2
runtime_sram_bytes = 3
app_sram_bytes = 4
stack_bytes = 5
"""


def test_every_builtin_profile_loads():
    names = set(targets.registry())
    assert set(REQUIRED) <= names
    for profile in targets.all_targets():
        assert profile.flash_bytes > 0 and profile.sram_bytes > 0 and profile.clock_hz > 0
        assert sum(r.arena for r in profile.ram_regions) == 1


def test_datasheet_figures():
    l4 = targets.load_target("nucleo-l4r5zi")
    assert (l4.core, l4.clock_hz, l4.flash_bytes, l4.sram_bytes) == ("cortex-m4", 120_000_000, 2 << 20, 640 << 10)
    h7 = targets.load_target("nucleo-h743zi")
    assert (h7.core, h7.flash_bytes) == ("cortex-m7", 2 << 20)
    assert h7.arena_region.name == "axi-sram" and h7.arena_region.size_bytes == 512 << 10
    assert targets.load_target("nrf52840-dk").sram_bytes == 256 << 10
    assert targets.load_target("rp2040-pico").sram_bytes == 264 << 10
    assert targets.load_target("cortex-m7").emulator.machine == "mps2-an500"
    assert targets.load_target("cortex-m4").emulator.machine == "mps2-an386"
    assert targets.load_target("cortex-m55").emulator.machine == "mps3-an547"


def test_memory_region_helpers():
    l4 = targets.load_target("nucleo-l4r5zi")
    sram1 = next(r for r in l4.memory if r.name == "sram1")
    assert sram1.contains(0x2000_0000, 196_608) and not sram1.contains(0x2000_0000, 196_609)
    assert not any(a.overlaps(b) for a in l4.memory for b in l4.memory if a is not b)


def test_target_file_and_env_path(tmp_path, monkeypatch):
    (tmp_path / "my-board.toml").write_text(GOOD.format(sram=65536))
    assert targets.load_target_file(tmp_path / "my-board.toml").sram_bytes == 65536
    monkeypatch.setenv("EDGEC_TARGETS_PATH", str(tmp_path))
    assert targets.load_target("my-board").clock_hz == 80_000_000


def test_extends_overrides_fields(tmp_path):
    (tmp_path / "fast-m7.toml").write_text('extends = "cortex-m7"\nname = "fast-m7"\nclock_hz = 400_000_000\n')
    p = targets.load_target_file(tmp_path / "fast-m7.toml")
    assert p.clock_hz == 400_000_000 and p.flash_bytes == targets.load_target("cortex-m7").flash_bytes


@pytest.mark.parametrize("sram, field", [("-1", "memory[1].size_bytes"), ('"big"', "memory[1].size_bytes")])
def test_bad_sizes_name_file_and_field(tmp_path, sram, field):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.format(sram=sram))
    with pytest.raises(FieldError) as err:
        targets.load_target_file(path)
    assert str(path) in err.value.message and field in err.value.message


def test_missing_size_is_named(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.format(sram=1).replace("stack_bytes = 5\n", ""))
    with pytest.raises(FieldError, match=r"reserves\.stack_bytes.*missing"):
        targets.load_target_file(path)


def test_unknown_field_and_core(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.format(sram=1).replace("clock_hz", "clock_mhz"))
    with pytest.raises(FieldError, match="clock_mhz"):
        targets.load_target_file(path)
    path.write_text(GOOD.format(sram=1).replace('"cortex-m4"', '"cortex-m9"', 1))
    with pytest.raises(FieldError, match=r"field 'core'.*cortex-m9"):
        targets.load_target_file(path)


def test_unknown_target_suggests_close_names():
    with pytest.raises(UnknownNameError) as err:
        targets.load_target("cortex-m77")
    assert "did you mean 'cortex-m7'" in err.value.message
