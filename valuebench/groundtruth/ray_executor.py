"""Run a plan's units as Ray tasks (``valuebench groundtruth ... --executor ray``; ``pip install 'valuebench[ray]'``).

Every unfinished unit is one Ray task that reserves ``threads`` CPUs (and ``gpus`` GPUs) and runs with that many
torch threads. A worker loads the subject model once (``subject.subject``) and returns the unit's payload; this
process, the driver, writes it atomically into the work folder, so workers need no shared filesystem and a unit
with a file is never run again (an interrupted driver resumes from the finished units).

Faults: a unit whose worker process or node dies is submitted again, at most ``max_retries`` times, each retry
reported by unit name; then the run stops and names the unit. A unit that raises a ``UserError`` (bad model,
bad data) stops the run with that one message; any other exception stops it as a bug, with the remote traceback
chained. Retries are the driver's (tasks go out with Ray's ``max_retries=0``), so each one is visible.
"""

from __future__ import annotations

import logging
from collections import Counter

from valuebench.errors import UserError
from valuebench.groundtruth.executors import Progress, run_unit
from valuebench.groundtruth.protocol import Pipeline, Plan
from valuebench.groundtruth.workdir import Workdir


def _ray():
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install 'valuebench[ray]'") from None
    return ray


def _system_failures(ray) -> tuple[type[BaseException], ...]:
    """Ray's errors for a task lost to its worker or node dying (not to the task's own code)."""
    ex = ray.exceptions
    return (ex.WorkerCrashedError, ex.NodeDiedError, ex.LocalRayletDiedError, ex.OutOfMemoryError,
            ex.ObjectLostError, ex.OwnerDiedError)


def _task(pipe: Pipeline, model: str, shared: dict, inputs: dict, threads: int) -> tuple[dict, float]:
    return run_unit(pipe, model, shared, inputs, threads)


class RayExecutor:
    in_process = False  # workers load the model; the driver needs only its identity (``subject.identity``)

    def __init__(self, address: str | None = None, threads: int = 1, gpus: float | None = None, max_retries: int = 2,
                 poll_s: float = 1.0):
        self.address, self.threads, self.gpus = address, threads, gpus
        self.max_retries, self.poll_s = max_retries, poll_s

    def _connect(self, ray) -> bool:
        """Connect to ``address``, or start a local cluster; True when this call started the connection (and
        must end it). An already initialized Ray (a test's cluster, a notebook) is used as it is."""
        if ray.is_initialized():
            return False
        options = {"log_to_driver": False, "logging_level": logging.WARNING}
        if self.address is None:
            options["include_dashboard"] = False
        try:
            ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"at {self.address}" if self.address else "on this machine"
            raise UserError(f"cannot start or reach a Ray cluster {where}: {str(exc).splitlines()[0][:200]}") from None
        return True

    def run(self, pipe: Pipeline, plan: Plan, work: Workdir, model: str, lm=None) -> None:
        todo = [name for name in plan.units if not work.done(name)]
        if not todo:
            return
        ray = _ray()
        owned = self._connect(ray)
        try:
            self._schedule(ray, pipe, plan, work, model, todo)
        finally:
            if owned:
                ray.shutdown()

    def _schedule(self, ray, pipe: Pipeline, plan: Plan, work: Workdir, model: str, todo: list[str]) -> None:
        task = ray.remote(_task)
        shared = ray.put(plan.shared)  # sent to the object store once, not once per unit

        # default: a whole GPU per unit when the cluster has any (training and scoring run there), else none
        gpus = self.gpus if self.gpus is not None else float(ray.cluster_resources().get("GPU", 0) >= 1)

        def submit(name: str):
            return task.options(num_cpus=self.threads, num_gpus=gpus, max_retries=0,
                                name=f"valuebench:{name}").remote(pipe, model, shared, plan.units[name], self.threads)

        slots = max(1, int(ray.cluster_resources().get("CPU", 1) // self.threads))
        pending = {submit(name): name for name in todo}
        deaths: Counter[str] = Counter()
        progress = Progress(len(todo), f"{pipe.kind} (ray)")
        progress.show(running=min(len(pending), slots))
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=self.poll_s)
                for ref in ready:
                    name = pending.pop(ref)
                    try:
                        payload, elapsed = ray.get(ref)
                    except _system_failures(ray) as exc:
                        deaths[name] += 1
                        progress.fail()
                        if deaths[name] > self.max_retries:
                            raise UserError(f"unit {name}: its worker died {deaths[name]} times (last: "
                                            f"{type(exc).__name__}); stopped after {self.max_retries} retries. "
                                            "Finished units are kept: run the command again to resume") from None
                        progress.note(f"unit {name}: its worker died ({type(exc).__name__}); retry {deaths[name]} "
                                      f"of {self.max_retries}")
                        pending[submit(name)] = name
                        continue
                    except ray.exceptions.RayTaskError as exc:
                        if isinstance(exc.cause, UserError):
                            raise UserError(f"unit {name}: {exc.cause}") from None
                        raise RuntimeError(f"unit {name} failed on a Ray worker: {exc.cause!r}") from exc
                    work.save(name, payload, elapsed=elapsed)
                    progress.done(running=min(len(pending), slots))
                progress.show(running=min(len(pending), slots))
        finally:
            for ref in pending:  # stopped early (an error, Ctrl-C): nothing keeps computing for nobody
                ray.cancel(ref, force=True)
            progress.close()
