"""Hub support without any network: a hand-built HF cache, a mocked HfApi, and hub calls that fail loudly."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import httpx2
import huggingface_hub
import pytest
from conftest import FIXTURES, isolated_tasks_root
from huggingface_hub.errors import HfHubHTTPError
from test_cli import run

from valuebench import hub
from valuebench.benchmarks import get_task

FIXTURE = FIXTURES / "tasks" / "fixture-constraints"
REPO = "test-org/fixture-constraints"
COMMIT = "3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39"
REAL_SNAPSHOT = huggingface_hub.snapshot_download


@pytest.fixture(autouse=True)
def no_network(tmp_path, monkeypatch):
    """Own HF cache; only cache lookups reach the real snapshot_download; any push or download explodes."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    calls = []

    def lookup_only(*args, **kwargs):
        calls.append(kwargs)
        if not kwargs.get("local_files_only"):
            raise AssertionError(f"network download attempted: {args} {kwargs}")
        return REAL_SNAPSHOT(*args, **kwargs)

    def explode(*args, **kwargs):
        raise AssertionError("HfApi call attempted in a test that must not use the network")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", lookup_only)
    for method in ("create_repo", "upload_folder", "repo_info", "list_repo_tree", "create_commit"):
        monkeypatch.setattr(huggingface_hub.HfApi, method, explode)
    return calls


def build_cache(root, alter_matrix=False):
    """The HF cache layout: blobs by content hash, snapshot files as relative symlinks, refs/main."""
    src = root.parent / "fixture-copy"
    shutil.copytree(FIXTURE, src)
    if alter_matrix:  # one cell changed, the file still parses: only the sha256 can tell
        lines = (src / "matrix.csv").read_text().splitlines(keepends=True)
        lines[1] = ",".join(c if i != 2 else "0.987654" for i, c in enumerate(lines[1].split(",")))
        (src / "matrix.csv").write_text("".join(lines))
    repo_dir = root / f"datasets--{REPO.replace('/', '--')}"
    snap = repo_dir / "snapshots" / COMMIT
    for folder in (repo_dir / "blobs", snap, repo_dir / "refs"):
        folder.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        blob = repo_dir / "blobs" / hashlib.sha256(f.read_bytes()).hexdigest()
        shutil.copyfile(f, blob)
        (snap / f.name).symlink_to(os.path.relpath(blob, snap))
    (repo_dir / "refs" / "main").write_text(COMMIT)
    return snap


def test_offline_packaged_task_never_calls_the_hub(no_network):
    task = get_task("fixture-constraints")
    assert task.folder == FIXTURE and task.metadata.version == "1.0.0" and no_network == []
    assert hub.load_index() == {}  # the shipped tasks/hub.yaml parses and maps nothing yet


def test_cached_reference_scores_equal_packaged_task(capsys, tmp_path, no_network):
    snap = build_cache(tmp_path / "hf-cache")
    vectors = tmp_path / "v.safetensors"
    run(capsys, "represent", "--method", "random", "--value-set", "constraints-9", "--output", str(vectors))
    results = []
    for ref in ("fixture-constraints", f"{REPO}@{COMMIT}"):
        code, out, err = run(capsys, "evaluate", "--method", f"vectors:{vectors}", "--tasks", ref,
                             "--permutations", "200", "--bootstrap", "200", "--format", "json",
                             "--output-dir", str(tmp_path / "results"))
        assert code == 0, err
        results.append(json.loads(out)["tasks"][0])
    packaged, cached = results
    assert cached["task"] == "fixture-constraints" and cached["n_pairs"] == 72
    for key in ("spearman", "kendall", "p_value", "ci", "normalized"):
        assert cached[key] == packaged[key], key
    assert no_network[-1]["local_files_only"] is True and no_network[-1]["revision"] == COMMIT
    written = sorted(p.name for p in (tmp_path / "results").rglob("*.json"))  # same name, two files
    assert written == ["fixture-constraints--test-org__fixture-constraints@" + COMMIT + ".json",
                       "fixture-constraints.json"]
    sources = [json.loads(p.read_text())["task"]["source"] for p in sorted((tmp_path / "results").rglob("*.json"))]
    assert sources == [f"{REPO}@{COMMIT}", None]
    assert str(hub.resolve(f"{REPO}@{COMMIT}").folder) == str(snap)
    with pytest.raises(hub.UserError, match="40-hex commit sha"):  # a branch can move: refused, cached or not
        hub.resolve(f"{REPO}@main")


@pytest.mark.parametrize("argv", [["hub", "pull"], ["evaluate", "--method", "random", "--tasks"]])
def test_altered_cached_matrix_is_refused(capsys, tmp_path, argv):
    build_cache(tmp_path / "hf-cache", alter_matrix=True)
    code, out, err = run(capsys, *argv, f"{REPO}@{COMMIT}")
    assert (code, out) == (2, "") and "sha256 mismatch for matrix.csv" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("offline,rev,needles", [
    ("1", COMMIT, ["offline mode is on", "in the Hugging Face cache {cache},"]),  # never downloads offline
    ("0", "main", ["40-hex commit sha, not 'main'", "reproducible"]),  # downloads are pinned
])
def test_not_cached_and_offline_or_unpinned(capsys, tmp_path, monkeypatch, no_network, offline, rev, needles):
    monkeypatch.setenv("HF_HUB_OFFLINE", offline)
    code, out, err = run(capsys, "hub", "pull", f"{REPO}@{rev}")
    assert code == 2 and out == "" and f"{REPO}@{rev}" in err, err
    assert all(n.format(cache=tmp_path / "hf-cache") in err for n in needles), err
    assert [call["local_files_only"] for call in no_network] == ([True] if rev == COMMIT else [])


def test_pinned_download_goes_to_the_cache(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))  # the cache is then HF_HOME/hub, read at call time
    seen = []

    def fake_download(repo_id, **kwargs):
        if kwargs.get("local_files_only"):
            return REAL_SNAPSHOT(repo_id, **kwargs)
        seen.append((repo_id, kwargs))
        return str(build_cache(tmp_path / "home" / "hub"))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    code, out, err = run(capsys, "hub", "pull", f"{REPO}@{COMMIT}")
    assert code == 0, err
    assert out.strip() == str(tmp_path / "home/hub/datasets--test-org--fixture-constraints/snapshots" / COMMIT)
    assert seen == [(REPO, {"repo_type": "dataset", "revision": COMMIT, "cache_dir": tmp_path / "home" / "hub"})]


def test_index_maps_a_plain_name_to_a_pinned_repo(tmp_path, monkeypatch, fixture_tasks_only):
    monkeypatch.setenv("VALUEBENCH_TASK_PATHS", "")  # fixture-constraints is no longer packaged
    index = isolated_tasks_root(tmp_path) / "hub.yaml"
    index.write_text(f"fixture-constraints:\n  repo: {REPO}\n  revision: {COMMIT}\n")
    snap = build_cache(tmp_path / "hf-cache")
    assert str(get_task("fixture-constraints").folder) == str(snap)
    index.write_text(f"fixture-constraints: {{repo: {REPO}, revision: main}}\n")
    with pytest.raises(hub.UserError, match="40-hex commit sha"):
        get_task("fixture-constraints")


PUSHED = "c0ffee" * 6 + "abcd"


class FakeApi:  # stands in for huggingface_hub.HfApi; ``calls`` is set by the ``fake_api`` fixture
    def __init__(self, token=None):
        assert token is None  # push_task leaves the token to huggingface_hub (HF_TOKEN)

    def create_repo(self, repo_id, **kwargs):
        FakeApi.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        FakeApi.calls.append(("upload_folder", kwargs))
        return huggingface_hub.CommitInfo(commit_url=f"https://huggingface.co/datasets/org/fx/commit/{PUSHED}",
                                          commit_message="m", commit_description="", oid=PUSHED)


@pytest.fixture
def fake_api(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    return FakeApi.calls


def test_push_task_uploads_the_folder_as_a_dataset(capsys, fake_api):
    code, out, err = run(capsys, "hub", "push-task", "fixture-constraints", "--repo", "org/fx", "--private")
    assert code == 0, err
    assert f"commit: {PUSHED}" in out and f"pin it as: org/fx@{PUSHED}" in out
    assert fake_api == [
        ("create_repo", "org/fx", {"repo_type": "dataset", "exist_ok": True, "private": True}),
        ("upload_folder", {"folder_path": str(FIXTURE), "repo_id": "org/fx", "repo_type": "dataset",
                           "commit_message": "valuebench task fixture-constraints v1.0.0",
                           "ignore_patterns": [".*", "**/.*"]})]


def test_corrupted_task_is_never_pushed(capsys, tmp_path, monkeypatch, fake_api):
    shutil.copytree(FIXTURE, tmp_path / "tasks" / "fixture-constraints")
    (tmp_path / "tasks" / "fixture-constraints" / "replicate-1.csv").write_text("a,b\nx,1\n")
    monkeypatch.setenv("VALUEBENCH_TASK_PATHS", str(tmp_path / "tasks"))
    code, _, err = run(capsys, "hub", "push-task", "fixture-constraints", "--repo", "org/fx")
    assert code == 2 and "sha256 mismatch for replicate-1.csv" in err and fake_api == []


def http_401(*args, **kwargs):
    response = httpx2.Response(401, request=httpx2.Request("POST", "https://huggingface.co/api/repos/create"))
    raise HfHubHTTPError("401 Client Error: Unauthorized\nInvalid credentials", response=response)


@pytest.mark.parametrize("patch,needle", [
    ((huggingface_hub, "get_token", lambda: None), "no Hugging Face token: set HF_TOKEN"),
    ((FakeApi, "create_repo", http_401), "to org/fx failed: 401 Client Error: Unauthorized Invalid credentials"),
])
def test_push_failures_are_one_line(capsys, monkeypatch, fake_api, patch, needle):
    monkeypatch.setattr(*patch)
    code, out, err = run(capsys, "hub", "push-task", "fixture-constraints", "--repo", "org/fx")
    assert (code, out, fake_api) == (2, "", []) and needle in err and len(err.strip().splitlines()) == 1
