"""The Ray executor on a local 2-worker Ray cluster (127.0.0.1): every pipeline on the tiny model writes what the
local executor writes, byte for byte apart from timing fields; a worker killed mid-unit is retried; a unit's user
error stops the run with one message; repeated worker deaths stop it, naming the unit."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import ray

from valuebench.cli import main
from valuebench.errors import UserError
from valuebench.groundtruth.protocol import Outcome, Pipeline, Plan
from valuebench.groundtruth.ray_executor import RayExecutor
from valuebench.groundtruth.workdir import Workdir

pytestmark = pytest.mark.xdist_group("ray")  # one cluster per test process: keep these tests on one worker

SMALL = ["--value-set", "constraints-9", "--values", "no_white_lies,no_stereotypes", "--model", "tiny-random",
         "--max-holdout", "3", "--max-train", "4", "--unit-threads", "1"]
DPO = ["--dpo-replicates", "2", "--dpo-epochs", "1", "--dpo-gate-z", "0", "--dpo-eval-per-value", "2"]
#: what differs between two runs of the same units: how long things took (and the card's date)
TIMING_KEYS = {"_elapsed_s", "train_s", "setup_s", "step_s", "eval_s", "train_runtime", "train_samples_per_second",
               "train_steps_per_second"}
TIMING_LINES = re.compile(r"^(  date: .*|  wall_time_s: .*|- compute time: .*|- DPO training per value .*)$", re.M)


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _same_output(a: Path, b: Path) -> None:
    """Two output folders hold the same tasks and work units, apart from timing fields."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        x, y = (a / rel).read_text(encoding="utf-8"), (b / rel).read_text(encoding="utf-8")
        if rel.suffix == ".json":
            assert _strip(json.loads(x)) == _strip(json.loads(y)), rel
        elif rel.name == "README.md":
            assert TIMING_LINES.sub("", x) == TIMING_LINES.sub("", y), rel
        else:
            assert x == y, rel  # matrices, replicates, companions: byte for byte


@pytest.mark.parametrize("kind", ["steering", "judges", "separation"])
def test_ray_writes_what_local_writes(kind, cluster, tmp_path, capsys):
    for executor in ("local", "ray"):
        argv = ["groundtruth", kind, *SMALL, "--output", str(tmp_path / executor), "--executor", executor]
        assert main(argv) == 0, capsys.readouterr().err
    _same_output(tmp_path / "local", tmp_path / "ray")
    assert "(ray)" in capsys.readouterr().err  # the one progress bar


def _kill_first_training_unit(found: list) -> None:
    """Kill (SIGKILL, by pid) the worker process running the first DPO training unit, a second into it."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not found:
        for proc in psutil.Process().children(recursive=True):
            try:
                title = proc.cmdline()[0] if proc.cmdline() else ""
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if title.startswith("ray::valuebench:dpo-r0-"):
                time.sleep(1.0)
                if proc.is_running():
                    found.append(title.removeprefix("ray::valuebench:"))
                    proc.kill()
                break
        time.sleep(0.1)


def test_dpo_on_ray_survives_a_killed_worker_and_matches_local(cluster, tmp_path, capsys):
    killed: list[str] = []
    killer = threading.Thread(target=_kill_first_training_unit, args=(killed,), daemon=True)
    killer.start()
    argv = ["groundtruth", "dpo", *SMALL, *DPO, "--executor", "ray", "--output", str(tmp_path / "ray")]
    assert main(argv) == 0, capsys.readouterr().err
    killer.join()
    err = capsys.readouterr().err
    assert killed and f"unit {killed[0]}: its worker died" in err and "retry 1 of 2" in err
    assert main(["groundtruth", "dpo", *SMALL, *DPO, "--output", str(tmp_path / "local")]) == 0
    _same_output(tmp_path / "local", tmp_path / "ray")
    # the driver restarted on a finished folder runs nothing and republishes the same matrix
    before = next((tmp_path / "ray").glob("dpo-*/matrix.csv")).read_bytes()
    assert main(argv) == 0 and next((tmp_path / "ray").glob("dpo-*/matrix.csv")).read_bytes() == before
    assert "(ray)" not in capsys.readouterr().err


class _Toy(Pipeline):
    """Units a..d; ``fail``: the unit that raises a user error, or whose worker process dies every time (None:
    none fails)."""

    kind = "toy"

    def __init__(self, fail: str | None, how: str = ""):
        self.fail, self.how = fail, how

    def plan(self, spec, data) -> Plan:
        return Plan({"scale": 2}, {name: {"x": k} for k, name in enumerate("abcd")})

    def run_unit(self, lm, shared, inputs) -> dict:
        if self.fail and inputs["x"] == "abcd".index(self.fail):
            if self.how == "user":
                raise UserError("model 'nope' is not in the cache")
            os._exit(1)  # the worker process dies, as when killed or out of memory
        time.sleep(0.2)
        return {"y": inputs["x"] * shared["scale"]}

    def finish(self, spec, data, payloads) -> Outcome:
        return Outcome({})


@pytest.mark.parametrize("how", ["user", "death"])
def test_a_failing_unit_stops_the_run_naming_it(how, cluster, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import this file
    pipe = _Toy("c", how)
    work = Workdir(tmp_path / "work", {"toy": how})
    plan = pipe.plan(None, None)
    message = "unit c: model 'nope' is not in the cache" if how == "user" else "unit c: its worker died 2 times"
    with pytest.raises(UserError, match=re.escape(message)):
        RayExecutor(max_retries=1).run(pipe, plan, work, None)
    assert not work.done("c")
    for name in {"a", "b", "d"} & {p.stem for p in work.path.glob("*.json")}:  # finished units are kept, whole
        assert work.load(name)["y"] == 2 * "abcd".index(name)


def test_an_interrupted_driver_resumes_from_its_finished_units(cluster, tmp_path, monkeypatch):
    """Ctrl-C on the driver after two units were written: the rest are cancelled; the next run computes only the
    missing units and never rewrites a finished one."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    pipe, work = _Toy(None), Workdir(tmp_path / "work", {"toy": "interrupt"})
    plan, save, written = pipe.plan(None, None), Workdir.save, []

    def save_then_interrupt(self, name, data, elapsed=None):
        save(self, name, data, elapsed)
        written.append(name)
        if len(written) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Workdir, "save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        RayExecutor().run(pipe, plan, work, None)
    monkeypatch.setattr(Workdir, "save", save)
    stamps = {name: work.file(name).stat().st_mtime_ns for name in written}
    assert len(stamps) == 2 and sorted(p.stem for p in work.path.glob("?.json")) == sorted(stamps)
    RayExecutor().run(pipe, plan, work, None)
    assert [work.load(name)["y"] for name in "abcd"] == [0, 2, 4, 6]
    assert {name: work.file(name).stat().st_mtime_ns for name in written} == stamps


def test_bad_model_on_ray_exits_2_before_any_work(tmp_path, capsys):
    """The driver resolves the model's identity (no weights) before scheduling: a bad id is one message, exit 2."""
    argv = ["groundtruth", "steering", "--value-set", "constraints-9", "--model", "nope/nope", "--executor", "ray",
            "--output", str(tmp_path / "out")]
    assert main(argv) == 2
    assert "model 'nope/nope' is neither a local folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["groundtruth", "steering", "--value-set", "constraints-9", "--ray-address", "auto"]) == 2
    assert "--ray-address applies to --executor ray" in capsys.readouterr().err
