"""Where the trials run: in this process (--workers 1, no Ray), or as Ray tasks.

Ray: with no address, a local Ray runtime is started with one CPU per worker; with an address, the
trials run on that cluster. The workload (model and data) is put once in Ray's object store and
every task receives it from there. A task whose worker or node is lost is retried by Ray
(`max_retries`); a trial that still fails is returned as a failed trial, never raised: the search
goes on and every trial is accounted for.
"""
from __future__ import annotations

import logging
import os
import time
import traceback

from toolchain.search.space import Config
from toolchain.search.trial import Workload, run_trial

MAX_RETRIES = 3
TASK_CPUS = 1  # each trial is a Ray task holding one CPU, and runs on one thread (THREAD_ENV)
# A worker's TensorFlow (and the OpenMP/BLAS pools beneath it) sized to its task's CPUs: by default
# TensorFlow sizes its intra- and inter-op pools to every core of the machine, so one worker alone
# already keeps both cores busy (its Ray CPU is a label, not a limit) and a second worker only
# competes with it. Set in the worker's environment before TensorFlow is imported there.
THREAD_ENV = {"TF_NUM_INTRAOP_THREADS": str(TASK_CPUS), "TF_NUM_INTEROP_THREADS": str(TASK_CPUS),
              "OMP_NUM_THREADS": str(TASK_CPUS), "OPENBLAS_NUM_THREADS": str(TASK_CPUS),
              "MKL_NUM_THREADS": str(TASK_CPUS)}


def _failed(config: Config, error: str) -> dict:
    return {"key": config.key, "config": config.to_dict(), "status": "failed", "error": error,
            "accuracy": None, "targets": {}}


class InProcessRunner:
    """Trials one after the other, in this process."""

    def __init__(self, work: Workload):
        self.work, self.queue = work, []
        self.workers = 1
        self.where = "in-process (no Ray)"

    @property
    def pending(self) -> int:
        return len(self.queue)

    def submit(self, config: Config, need: tuple[str, ...] | None = None) -> None:
        self.queue.append((config, need))

    def wait(self) -> list[tuple[Config, dict]]:
        config, need = self.queue.pop(0)
        started = time.monotonic()
        try:
            record = run_trial(self.work, config, need)
        except Exception as exc:  # noqa: BLE001 -- one configuration's failure is that trial's result
            record = _failed(config, f"{type(exc).__name__}: {exc}")
            record["traceback"] = traceback.format_exc(limit=6)
        record.update(node="local", wall_seconds=round(time.monotonic() - started, 3))
        return [(config, record)]

    def cancel(self) -> None:
        self.queue.clear()

    def close(self) -> None:
        pass


def _pin_threads(n: int) -> None:
    """TensorFlow's pools to `n` threads in this worker, if TensorFlow has not started them yet (the
    environment of the runtime_env already says so; this covers a worker started without it)."""
    for name, value in THREAD_ENV.items():
        os.environ.setdefault(name, value)
    from toolchain.quiet import import_tensorflow

    tf = import_tensorflow()
    try:
        if tf.config.threading.get_intra_op_parallelism_threads() != n:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # already initialized in this worker (a later task): kept as it is
        pass


def _warm_worker(work: Workload) -> int:
    from toolchain.search.trial import _loaded

    _pin_threads(TASK_CPUS)
    _loaded(work)
    return os.getpid()


def _remote_trial(work: Workload, config: dict, need: tuple[str, ...] | None = None) -> dict:
    """A trial on a Ray worker: the workload arrives through the object store."""
    import ray

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _pin_threads(TASK_CPUS)
    config = Config.from_dict(config)
    started = time.monotonic()
    try:
        record = run_trial(work, config, need)
    except Exception as exc:  # noqa: BLE001 -- the trial's result, not a lost worker
        record = _failed(config, f"{type(exc).__name__}: {exc}")
        record["traceback"] = traceback.format_exc(limit=6)
    record.update(node=ray.get_runtime_context().get_node_id(), wall_seconds=round(time.monotonic() - started, 3))
    return record


class RayRunner:
    """Trials as Ray tasks: on a local Ray runtime started here (`workers` CPUs), or on a cluster."""

    def __init__(self, work: Workload, workers: int | None = None, address: str | None = None):
        from toolchain.base.errors import OptionError

        try:
            import ray
        except ImportError:  # pragma: no cover -- Ray is a dependency of edgec
            raise OptionError("--workers", workers, "Ray installed (pip install 'ray'), or --workers 1") from None
        self.ray = ray
        env = {"TF_CPP_MIN_LOG_LEVEL": "3", **THREAD_ENV}
        if os.environ.get("PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                      configure_logging=True, runtime_env={"env_vars": env})
        if address:
            try:
                ray.init(address=address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise OptionError("--ray-address", address, f"a reachable Ray cluster ({exc})") from None
        else:
            # Ray starts its workers at nice 15 (background work to it); here they are the work asked
            # for, and on a machine shared with other jobs nice 15 leaves them the CPU no one else wants
            ray.init(num_cpus=workers or os.cpu_count() or 1, _system_config={"worker_niceness": 0}, **kwargs)
        self.started_here = not address
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        self.where = (f"Ray cluster at {address}" if address else "local Ray runtime") + \
            f" ({self.workers} worker{'s' if self.workers != 1 else ''})"
        self.work_ref = ray.put(work)
        self.task = ray.remote(num_cpus=TASK_CPUS, max_retries=MAX_RETRIES, retry_exceptions=False)(_remote_trial)
        self.running: dict = {}  # ObjectRef -> Config

    @property
    def pending(self) -> int:
        return len(self.running)

    def warm(self) -> None:
        """One task per worker that starts its process, imports TensorFlow and loads the workload, so
        that a measurement of trials per hour does not count the workers' start (bench/fit_fmnist.py)."""
        warm = self.ray.remote(num_cpus=TASK_CPUS)(_warm_worker)
        self.ray.get([warm.remote(self.work_ref) for _ in range(self.workers)])

    def submit(self, config: Config, need: tuple[str, ...] | None = None) -> None:
        self.running[self.task.remote(self.work_ref, config.to_dict(), need)] = config

    def wait(self) -> list[tuple[Config, dict]]:
        ray = self.ray
        ready, _ = ray.wait(list(self.running), num_returns=1)
        out = []
        for ref in ready:
            config = self.running.pop(ref)
            try:
                record = ray.get(ref)
            except ray.exceptions.RayError as exc:  # retries spent: the worker or its node kept dying
                record = _failed(config, f"lost after {MAX_RETRIES} retries: {type(exc).__name__}: "
                                         + str(exc).splitlines()[0][:300])
            out.append((config, record))
        return out

    def cancel(self) -> None:
        for ref in self.running:
            self.ray.cancel(ref, force=True)
        self.running.clear()

    def close(self) -> None:
        self.ray.shutdown()


def make_runner(work: Workload, workers: int | None, address: str | None):
    if address is None and workers == 1:
        return InProcessRunner(work)
    return RayRunner(work, workers, address)
