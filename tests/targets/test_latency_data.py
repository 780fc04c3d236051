"""The latency model's data files (targets/latency/): every one read by the TOML checker, unknown keys
refused, one per emulated core, each naming a core and a QEMU machine that exist."""
from __future__ import annotations

import pytest

from targets.hardware import cores, qemu_machines
from targets.latency import KINDS, LATENCY_DIR, TFLM_FILE, latency_for_core, read_core_latency, read_tflm_reference
from toolchain.base.errors import FieldError, UnknownKeyError

FILES = sorted(LATENCY_DIR.glob("cortex-*.toml"))


def test_every_emulated_core_of_the_issue_has_a_calibrated_file():
    assert {f.stem for f in FILES} >= {"cortex-m0plus", "cortex-m4", "cortex-m7", "cortex-m33"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_a_data_file_is_valid_and_names_its_core_and_board(path):
    data = read_core_latency(path)
    assert data.core == path.stem and data.core in cores()
    machine = qemu_machines()[data.machine]
    assert cores()[machine.cpu].runs_code_for(cores()[data.core])  # measured on a board running its code
    for kind in ("conv", "conv_1x1", "depthwise", "fully_connected", "add", "softmax"):
        assert data.kinds[kind].layers_fitted > 0, kind
    for cost in data.kinds.values():
        assert set(cost.per_unit) == set(KINDS[cost.kind])


def test_the_tflm_reference_is_labelled_as_an_x86_figure():
    ref = read_tflm_reference()
    assert ref.x86_instructions_per_mac > 1 and "x86" in ref.source and "callgrind" in ref.source
    assert ref.path == TFLM_FILE


def test_a_cortex_m0_uses_the_m0plus_data_and_a_core_without_a_board_has_none():
    assert latency_for_core("cortex-m0").core == "cortex-m0plus"  # the same Armv6-M instructions
    assert latency_for_core("xtensa-lx7") is None


GOOD = """
core = "cortex-m7"
machine = "mps2-an500"
source = "hand-written"
[inference]
instructions_per_call = 10.0
[add]
instructions_per_call = 5.0
instructions_per_output_element = 2.0
layers_fitted = 1
"""


def test_a_hand_written_file_reads(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text(GOOD)
    data = read_core_latency(path)
    assert data.per_inference == 10.0 and data.kinds["add"].per_unit == {"output_element": 2.0}


@pytest.mark.parametrize("edit, error, key", [
    (GOOD.replace("instructions_per_output_element", "instructions_per_mac"), FieldError,
     "add.instructions_per_output_element"),  # a unit the kind does not take, and the one it needs missing
    (GOOD + "instructions_per_mac = 1.0\n", UnknownKeyError, "add.instructions_per_mac"),
    (GOOD.replace("[add]", "[addition]"), UnknownKeyError, "addition"),
    (GOOD.replace("layers_fitted = 1", "layers_fitted = 1\ncycles = 3"), UnknownKeyError, "add.cycles"),
    (GOOD.replace("5.0", "-5.0"), FieldError, "add.instructions_per_call"),
])
def test_unknown_keys_and_bad_values_are_refused_with_the_key(tmp_path, edit, error, key):
    path = tmp_path / "m.toml"
    path.write_text(edit)
    with pytest.raises(error) as exc:
        read_core_latency(path)
    assert type(exc.value) is error and exc.value.field == key and str(path) in str(exc.value)
