"""`edgec fit --ray-address` on a real two-node Ray cluster on the loopback address: the head and a
second worker node started as separate processes (`ray start`), trials on both nodes, the worker node
killed mid-search, the search finishing with every trial accounted for, the cluster stopped at the end."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO, require_tool, running

RAY = Path(sys.executable).with_name("ray")


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def wait_for(predicate, timeout: float, what: str, poll: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def records(out: Path) -> list[dict]:
    found = []
    for path in sorted((out / "trials").glob("*.json")):
        try:
            found.append(json.loads(path.read_text()))
        except ValueError:  # being replaced: read it next time
            pass
    return found


def processes() -> list[tuple[int, int, int, bytes]]:
    """(pid, parent pid, process group, command line) of every process."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                out.append((int(entry.name), int(fields[1]), int(fields[2]), (entry / "cmdline").read_bytes()))
            except (OSError, IndexError, ValueError):
                continue
    return out


def node_workers(pgid: int) -> list[tuple[int, bytes]]:
    """The Ray worker processes of the node started in process group `pgid`: its raylet's children,
    each in a process group of its own (so they are killed by pid, as they were found)."""
    table = processes()
    group = {pid for pid, _, g, _ in table if g == pgid}
    return [(pid, cmd) for pid, ppid, g, cmd in table if ppid in group and g != pgid and cmd.startswith(b"ray::")]


def kill_workers(pgid: int) -> None:
    for pid, _ in node_workers(pgid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def ray_node(args: list[str], env: dict, log):
    """`ray start ... --block` in a process group of its own; on the way out its workers and then the
    whole group are killed (the node stops, whatever the test did)."""
    with running([str(RAY), "start", *args], env=env, stdout=log, stderr=subprocess.STDOUT) as proc:
        try:
            yield proc
        finally:
            kill_workers(proc.pid)


def node_args(temp: Path, ports: list[int]) -> list[str]:
    return ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats", "--block",
            "--temp-dir", str(temp), "--node-manager-port", str(ports[0]), "--object-manager-port", str(ports[1]),
            "--dashboard-agent-listen-port", str(ports[2]), "--metrics-export-port", str(ports[3]),
            "--runtime-env-agent-port", str(ports[4])]


@pytest.mark.slow
def test_fit_on_a_two_node_ray_cluster_survives_losing_a_node(tiny, tmp_path):
    require_tool("qemu-system-arm")  # the fit's latency on the emulated board
    require_tool("arm-none-eabi-gcc")
    if not RAY.exists():
        pytest.fail(f"{RAY} missing: Ray is a dependency of edgec (pyproject.toml)")
    folder, model, train, evaluation = tiny
    # The cluster's token (Ray's token authentication) is given to each node and to the driver.
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    ports = free_ports(14)
    address = f"127.0.0.1:{ports[0]}"
    temp = Path("/tmp") / f"edgec-ray-{os.getpid()}"  # short: Ray's socket paths have a length limit
    head_log, worker_log = tmp_path / "head.log", tmp_path / "worker.log"
    out = tmp_path / "fit"
    try:
        with open(head_log, "w") as hl, open(worker_log, "w") as wl:
            with ray_node(["--head", "--port", str(ports[0]), "--include-dashboard", "false",
                           "--ray-client-server-port", str(ports[1]), "--dashboard-port", str(ports[2]),
                           *node_args(temp, ports[3:8])], env, hl):
                wait_for(lambda: "Ray runtime started" in head_log.read_text(), 90, "the Ray head")
                with ray_node(["--address", address, *node_args(temp, ports[8:13])], env, wl) as worker:
                    wait_for(lambda: "Ray runtime started" in worker_log.read_text(), 90, "the worker node")
                    with running([sys.executable, "-m", "toolchain.cli", "fit", model, "--target", "cortex-m0plus",
                                  "--train", train, "--eval", evaluation, "--ray-address", address,
                                  "--runtime", "tflm", "--epochs", "1", "--no-distill", "--no-16x8",
                                  "--trials", "4", "--fits", "9", "--no-qat",
                                  "-o", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) as search:
                        # Trials ran on both nodes: then the worker node is killed in the middle of a trial.
                        wait_for(lambda: len({r["node"] for r in records(out) if "node" in r}) >= 2, 240, "trials on both nodes")
                        wait_for(lambda: any(cmd.startswith(b"ray::_remote_trial") for _, cmd in
                                             node_workers(worker.pid)), 120, "a trial on the worker node", 0.1)
                        before = {r["key"] for r in records(out)}
                        kill_workers(worker.pid)  # the node dies with the trial it runs
                        os.killpg(worker.pid, signal.SIGKILL)
                        killed_at = time.time()
                        stdout, stderr = search.communicate(timeout=300)
                        assert search.returncode == 0, stdout + stderr
    finally:  # the cluster's processes are killed by `running`; its session files go too
        shutil.rmtree(temp, ignore_errors=True)
    report = json.loads((out / "report.json").read_text())
    done = records(out)
    nodes = {r["node"] for r in done if r["status"] != "skipped"}  # a skipped configuration ran nowhere
    assert len(nodes) == 2, nodes
    # Every trial accounted for: none lost, none failed, and the search went on after the node died.
    assert {t["status"] for t in report["trials"]} <= {"trained", "does-not-fit", "fits-untrained", "skipped"}
    assert len(report["trials"]) == report["submitted"] + report["counts"].get("skipped", 0)
    assert sum(r["status"] == "trained" for r in done) >= 4
    after = [r for r in done if r["key"] not in before]
    assert after and all(os.path.getmtime(out / "trials" / f"{r['key']}.json") >= killed_at - 1 for r in after)
    assert "Ray cluster at " + address in report["where"]
    assert report["targets"]["cortex-m0plus"]["best"] is not None
    # the fit's latency on the target's emulated board (QEMU microbit, -icount): its C engine, one inference
    emulated = report["targets"]["cortex-m0plus"]["build"]["latency"]
    assert emulated["latency"] == "emulated" and emulated["machine"] == "microbit", emulated
    assert emulated["latency_ms"] == round(1000 * emulated["instructions"] / 48_000_000, 4) > 0
