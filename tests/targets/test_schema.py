"""One typed hardware description: cores, QEMU machines, boards, memories, flashers, read by the
one TOML checker; unknown keys refused in every table with the file and the key; `extends`."""
from __future__ import annotations

import pytest

import targets
from toolchain.base.errors import FieldError, UnknownKeyError
from targets import EsptoolOptions, MassStorageOptions, NoOptions, PyocdOptions
from targets.hardware import CORES_FILE, MACHINES_FILE, read_cores, read_qemu_machines

PROFILE = """
name = "my-board"
core = "cortex-m4"
clock_hz = 80_000_000
flasher = "pyocd"
uart = "stm32-usart-v2"
uart_base = 0x4001_1000

[flasher_options]
pyocd_target = "stm32f4"

[serial]
baud = 115_200

[board]
setup = "stm32f7"
core_clock_hz = 16_000_000
uart_clock_hz = 16_000_000
uart_tx_pin = "PA9"
uart_rx_pin = "PB7"

[[memory]]
name = "flash"
kind = "flash"
start = 0x0800_0000
size_bytes = 524_288

[[memory]]
name = "sram"
kind = "ram"
start = 0x2000_0000
size_bytes = 65_536

[reserves]
runtime_flash_bytes = 1
app_flash_bytes = 2
runtime_sram_bytes = 3
app_sram_bytes = 4
stack_bytes = 5
"""


def _write(tmp_path, text, name="my-board.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_profile_used_by_these_tests_loads(tmp_path):
    p = targets.load_target_file(_write(tmp_path, PROFILE))
    assert p.flasher_options == PyocdOptions(pyocd_target="stm32f4")
    assert p.cflags == targets.cores()["cortex-m4"].cflags  # the core's, when the profile names none
    assert p.core_spec.cpuid_partno == 0xC24 and p.core_spec.dsp and p.core_spec.fpu == "sp"


@pytest.mark.parametrize("after, line, field", [
    ("", 'clock_mhz = 80', "clock_mhz"),  # the profile's top table
    ("[reserves]\n", "stak_bytes = 5", "reserves.stak_bytes"),
    ('size_bytes = 65_536\n', "arena_bytes = 1024", "memory[1].arena_bytes"),
    ('pyocd_target = "stm32f4"\n', 'pyocd_traget = "x"', "flasher_options.pyocd_traget"),
    ('uart_rx_pin = "PB7"\n', 'uart_rx_pull = "up"', "board.uart_rx_pull"),
    ("baud = 115_200\n", 'port = "/dev/ttyACM0"', "serial.port"),
])
def test_an_unknown_key_in_each_table_is_refused_naming_file_and_key(tmp_path, after, line, field):
    text = PROFILE.replace(after, after + line + "\n", 1) if after else line + "\n" + PROFILE
    path = _write(tmp_path, text)
    with pytest.raises(UnknownKeyError) as info:
        targets.load_target_file(path)
    assert (info.value.path, info.value.field) == (str(path), field)
    assert str(info.value).startswith(f"{path}: field '{field}': unknown key; ")


def test_a_key_of_another_flasher_is_refused(tmp_path):
    """The options are typed per flasher: esptool's `chip` is not a pyOCD option."""
    path = _write(tmp_path, PROFILE.replace('pyocd_target = "stm32f4"\n', 'pyocd_target = "stm32f4"\nchip = "x"\n'))
    with pytest.raises(UnknownKeyError, match=r"field 'flasher_options.chip': unknown key; known here: pyocd_target"):
        targets.load_target_file(path)


def test_an_unknown_key_in_the_cores_and_machines_files_is_refused(tmp_path):
    cores = _write(tmp_path, CORES_FILE.read_text().replace("[cortex-m4]\n", "[cortex-m4]\ndps = true\n"),
                   "cores.toml")
    with pytest.raises(UnknownKeyError) as info:
        read_cores(cores)
    assert str(info.value).startswith(f"{cores}: field 'cortex-m4.dps': unknown key; did you mean 'dsp'?")
    machines = _write(tmp_path, MACHINES_FILE.read_text().replace("sysclk_hz = 25_000_000\n",
                                                                  "sysclk_hz = 25_000_000\nsysclk_mhz = 25\n", 1),
                      "machines.toml")
    with pytest.raises(UnknownKeyError, match=f"{machines}: field 'mps2-an386.sysclk_mhz': unknown key"):
        read_qemu_machines(machines)
    assert read_cores(CORES_FILE) == targets.cores() and read_qemu_machines(MACHINES_FILE) == targets.qemu_machines()


def test_typed_flasher_options_of_the_built_in_profiles():
    assert targets.load_target("nucleo-h743zi").flasher_options == PyocdOptions("stm32h743zitx")
    assert targets.load_target("esp32-s3-devkitc").flasher_options == EsptoolOptions("esp32s3", 0x10000, 460_800)
    assert targets.load_target("rp2040-pico").flasher_options == MassStorageOptions("RPI-RP2", "uf2", 0xE48BFF56)
    assert targets.load_target("cortex-m7").flasher_options == NoOptions()


def test_the_emulator_is_a_qemu_machine_with_the_profile_s_core_and_uart(tmp_path):
    m7 = targets.load_target("cortex-m7")
    assert (m7.emulator.machine, m7.emulator.cpu, m7.emulator.sysclk_hz) == ("mps2-an500", "cortex-m7", 25_000_000)
    assert (m7.uart, m7.uart_base) == ("cmsdk-uart", 0x4000_4000)  # the machine's, not repeated in the profile
    qemu = PROFILE.replace('flasher = "pyocd"', 'flasher = "qemu"').replace('pyocd_target = "stm32f4"\n', "")
    with pytest.raises(FieldError, match=r"field 'emulator': expected an \[emulator\] table"):
        targets.load_target_file(_write(tmp_path, qemu))
    other_core = qemu + '[emulator]\nmachine = "mps2-an500"\n'
    with pytest.raises(FieldError, match="field 'emulator.machine': expected a QEMU machine with a cortex-m4 core"):
        targets.load_target_file(_write(tmp_path, other_core))
    other_uart = qemu + '[emulator]\nmachine = "mps2-an386"\n'
    with pytest.raises(FieldError, match=r"field 'uart': expected the machine's UART \(cmsdk-uart at 0x40004000\)"):
        targets.load_target_file(_write(tmp_path, other_uart))


def test_nine_profiles_extend_one_base_for_their_reserves():
    extending = sorted(p.stem for p in targets.BUILTIN_DIR.glob("*.toml")
                       if 'extends = "cortex-m-dsp-reserves"' in p.read_text())
    assert extending == ["cortex-m33", "cortex-m4", "cortex-m55", "cortex-m7", "netduinoplus2", "nrf52840-dk",
                         "nucleo-h743zi", "nucleo-l4r5zi", "stm32f746g-disco"]
    assert "cortex-m-dsp-reserves" in targets.bases() and "cortex-m-dsp-reserves" not in targets.registry()
    for name in extending:
        assert "\n[reserves]" not in (targets.BUILTIN_DIR / f"{name}.toml").read_text()
        assert targets.load_target(name).reserves == targets.Reserves(65_536, 16_384, 1_024, 4_096, 4_096)


def test_extends_merges_tables_key_by_key(tmp_path, monkeypatch):
    (tmp_path / "bases").mkdir()
    (tmp_path / "bases" / "my-reserves.toml").write_text(
        "[reserves]\nruntime_flash_bytes = 10\napp_flash_bytes = 20\nruntime_sram_bytes = 30\n"
        "app_sram_bytes = 40\nstack_bytes = 50\n")
    monkeypatch.setenv("EDGEC_TARGETS_PATH", str(tmp_path))
    text = PROFILE[:PROFILE.index("[reserves]")]
    path = _write(tmp_path, 'extends = "my-reserves"\n' + text + "[reserves]\nstack_bytes = 8_192\n")
    assert targets.load_target_file(path).reserves == targets.Reserves(10, 20, 30, 40, 8_192)
    child = _write(tmp_path, 'extends = "my-board"\nname = "fast"\nclock_hz = 1\n', "fast.toml")
    fast = targets.load_target_file(child)
    assert (fast.name, fast.clock_hz, fast.reserves.stack_bytes) == ("fast", 1, 8_192)


def test_an_error_in_a_base_names_the_base_file(tmp_path, monkeypatch):
    (tmp_path / "bases").mkdir()
    base = tmp_path / "bases" / "my-reserves.toml"
    base.write_text("[reserves]\nruntime_flash_bytes = 10\napp_flash_bytes = 20\nruntime_sram_bytes = 30\n"
                    "app_sram_bytes = 40\nstack_bytes = 50\nheap_bytes = 60\n")
    monkeypatch.setenv("EDGEC_TARGETS_PATH", str(tmp_path))
    path = _write(tmp_path, 'extends = "my-reserves"\n' + PROFILE[:PROFILE.index("[reserves]")])
    with pytest.raises(UnknownKeyError) as info:
        targets.load_target_file(path)
    assert (info.value.path, info.value.field) == (str(base), "reserves.heap_bytes")
    base.write_text(base.read_text().replace("heap_bytes = 60\n", "").replace("stack_bytes = 50", "stack_bytes = -1"))
    with pytest.raises(FieldError, match=f"^{base}: field 'reserves.stack_bytes'"):
        targets.load_target_file(path)


def test_profiles_state_cflags_only_where_the_part_differs_from_its_core():
    differing = {p.name: p.cflags for p in targets.all_targets() if p.cflags != p.core_spec.cflags}
    assert differing == {"stm32f746g-disco": ("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16")}
