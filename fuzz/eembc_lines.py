"""Fuzz target: the EEMBC / MLPerf Tiny line parser, host side (toolchain.device.eembc): whatever a
device sends, as the answer to a whole session (identify, load, infer, the edgec- extensions, and
the resynchronisations between them).

The input is what the "device" says, served to the client by a port object in chunks (a read
after the end returns nothing at once: a silent device, with timeouts of a few milliseconds).
Property: a clean EdgecError (DeviceError) or success; never another exception, signal or hang.
"""
from __future__ import annotations

INSTRUMENT = ("toolchain.device.eembc", "toolchain.benchmark.device_run")


class ScriptedPort:
    """A pyserial-like port that says `data` (in chunks of up to 61 bytes) whatever it is sent."""

    def __init__(self, data: bytes):
        self.data, self.timeout, self.in_waiting = data, 0.0, 0

    def read(self, n: int) -> bytes:
        chunk, self.data = self.data[:max(n, 61)], self.data[max(n, 61):]
        return chunk

    def write(self, data: bytes) -> int:
        return len(data)

    def close(self) -> None:
        pass


def check(data: bytes) -> None:
    import numpy as np

    from toolchain.base.errors import EdgecError
    from toolchain.benchmark.device_run import run_samples
    from toolchain.device.eembc import EembcClient

    client = EembcClient(ScriptedPort(data), timeout_s=0.001, retries=1, deadline_s=2.0)
    try:
        info = client.identify()  # connect() would wait its 0.5 s floor for a boot banner
        run_samples(client, info, np.zeros((1, 4), np.int8), runs=1, warmup=0, infer_timeout_s=0.001)
    except EdgecError:
        return


def seeds() -> dict[str, bytes]:
    session = "\r\n".join([
        "m-timestamp-mode-performance", "m-init-done", "m-ready",
        "m-name-dut-[fuzz]", "m-ready", "m-profile-[edgec-fw]", "m-model-[ic01]", "m-ready",
        "m-edgec-arena-[bytes=1024,input=4]", "m-ready",
        "m-[Expecting 4 bytes]", "m-ready", "m-load-done", "m-ready",
        "m-warmup-start-0", "m-warmup-done", "m-infer-start-1", "m-lap-us-1000", "m-lap-us-1250",
        "m-infer-done", "m-results-[0.500,-1.000]", "m-ready",
        "m-edgec-raw-[7f80]", "m-ready",
        "m-edgec-timing-[timer=systick,timer_hz=25000000,core_hz=25000000,ticks=250]", "m-ready",
        "m-edgec-layer-[0,CONV_2D,120]", "m-edgec-layer-[1,SOFTMAX,4]", "m-ready",
        "m-edgec-stack-[used=512,size=4096]", "m-ready", "m-edgec-arena-[bytes=1024,input=4]", "m-ready", ""])
    plain = "\r\n".join(["m-init-done", "m-ready", "m-name-dut-[ref]", "m-ready", "m-profile-[x]", "m-model-[kws01]",
                         "m-ready", "e-[Unknown command: edgec-arena]", "m-ready", ""])
    return {"edgec_session.txt": session.encode(), "reference_firmware.txt": plain.encode()}


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from fuzz._harness import run_as_script

    run_as_script("fuzz.eembc_lines")
