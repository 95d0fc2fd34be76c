"""Executors run a plan's unfinished units and write each finished unit's payload, atomically, as one file.

``LocalExecutor`` runs them one after another in this process (the default). ``RayExecutor``
(``groundtruth.ray_executor``) schedules each as a Ray task; workers return payloads and this process writes
them. Either way a unit that has a file is never run again, so an interrupted run resumes where it stopped.

Floating-point sums depend on how many threads torch splits them over (last digits of a margin move with the
thread count), so a run is byte-identical to another one only with the same ``threads`` per unit.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from tqdm.auto import tqdm

from valuebench.groundtruth.protocol import Pipeline, Plan
from valuebench.groundtruth.workdir import Workdir


class Progress:
    """One bar over units: done / running / failed counts, and the ETA tqdm derives from finished units."""

    def __init__(self, total: int, desc: str):
        self.bar = tqdm(total=total, desc=desc, unit="unit")
        self.running = self.failed = 0

    def _postfix(self, done: int) -> None:
        self.bar.set_postfix_str(f"done {done}, running {self.running}, failed {self.failed}", refresh=False)

    def show(self, running: int | None = None) -> None:
        if running is not None:
            self.running = running
        self._postfix(self.bar.n)
        self.bar.refresh()

    def done(self, running: int | None = None) -> None:
        if running is not None:
            self.running = running
        self._postfix(self.bar.n + 1)  # the counts first, then update() refreshes: never a stale count
        self.bar.update(1)

    def fail(self) -> None:
        self.failed += 1
        self.show()

    def note(self, message: str) -> None:
        """A line above the bar (stderr, like the bar)."""
        self.bar.write(message, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


@contextmanager
def torch_threads(threads: int | None):
    """Run with ``threads`` torch threads (None: leave torch's default), restoring the old count after."""
    import torch

    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def run_unit(pipe: Pipeline, model: str | None, shared: dict, inputs: dict, threads: int | None = None,
             lm=None) -> tuple[dict, float]:
    """One unit: its payload and the seconds it took (what a Ray worker runs, and the local executor too).
    ``model`` None: a pipeline whose units need no subject model."""
    from valuebench.groundtruth.subject import subject

    with torch_threads(threads):
        lm = lm or (subject(model) if model is not None else None)
        start = time.perf_counter()
        payload = pipe.run_unit(lm, shared, inputs)
        return payload, time.perf_counter() - start


class LocalExecutor:
    """Every unfinished unit in this process, in plan order."""

    in_process = True  # units run on the caller's loaded model

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def run(self, pipe: Pipeline, plan: Plan, work: Workdir, model: str, lm=None) -> None:
        todo = [name for name in plan.units if not work.done(name)]
        if not todo:
            return
        progress = Progress(len(todo), pipe.kind)
        try:
            for name in todo:
                progress.show(running=1)
                payload, elapsed = run_unit(pipe, model, plan.shared, plan.units[name], self.threads, lm)
                work.save(name, payload, elapsed=elapsed)
                progress.done(running=0)
        except BaseException:
            progress.fail()
            raise
        finally:
            progress.close()
