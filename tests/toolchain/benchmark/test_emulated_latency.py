"""Which emulated board measures a fit's latency: the target's own, else a profile of the same core."""
from __future__ import annotations

from targets import all_targets, load_target
from toolchain.benchmark.emulated_latency import _emulated_boards, emulated_latency


def test_a_board_without_emulator_is_measured_on_an_emulated_profile_of_its_core():
    nucleo = load_target("nucleo-l4r5zi")
    assert nucleo.emulator is None
    boards = _emulated_boards(nucleo)
    assert boards and all(b.core == nucleo.core and b.emulator is not None and b.flasher == "qemu" for b in boards)
    assert [b.name for b in _emulated_boards(load_target("cortex-m0plus"))][0] == "cortex-m0plus"  # its own first


def test_a_core_no_emulator_runs_stays_an_estimate(tmp_path):
    emulated_cores = {t.core for t in all_targets() if t.emulator is not None}
    lonely = [t for t in all_targets() if t.core not in emulated_cores]
    assert lonely, "every core has an emulated profile: pick another case"
    result = emulated_latency(tmp_path / "unused.tflite", lonely[0], tmp_path)
    assert result == {"latency": "estimate", "why": f"no emulated board has {lonely[0].name}'s core ({lonely[0].core})"}
