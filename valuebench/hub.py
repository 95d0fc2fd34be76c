"""Task folders on the Hugging Face Hub: push a task, resolve ``ORG/NAME@REVISION`` references.

A task folder already is a Hugging Face dataset (card + CSVs), so publishing is one upload and a commit sha
is a citation that cannot move. A reference resolves from the packaged copy, then the local HF cache, then a
download pinned to a commit sha; every source is sha256-checked against its card, because a cache or a Hub
repo is only as trustworthy as the hashes the card commits to. ``huggingface_hub`` is imported inside the
functions that need it, so runs that never touch the Hub never pay for importing it.

A revision must be a full 40-hex commit sha, for cache lookups too: a branch name can move, and a revision
is also a path component inside the cache (``../../evil`` once loaded a task from outside it). Every resolved
snapshot folder, and every file of it (HF snapshots are symlinks into ``blobs/``), must resolve inside the
cache, and the card and data files are size-capped before they are read.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

from valuebench import tasks as _tasks
from valuebench.errors import UserError, did_you_mean
from valuebench.io import check_size, one_line, read_text_capped, safe_load_yaml
from valuebench.paths import tasks_dir
from valuebench.tasks import Task, discover, load_task_card

REPO_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9])?"
                     r"/[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9])?$")
SHA_RE = re.compile(r"^[0-9a-f]{40}$")


def hub_cache_dir() -> Path:
    """The HF hub cache, read from the environment at call time: huggingface_hub freezes its own constant
    at import, which would ignore a cache chosen later (by a test, or a user exporting HF_HUB_CACHE)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def offline() -> bool:
    """``HF_HUB_OFFLINE`` from ``os.environ`` now, for the same reason as ``hub_cache_dir``."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def parse_reference(ref: str) -> tuple[str, str] | None:
    """``(repo, revision)`` for ``ORG/NAME@REVISION``, ``None`` for a plain task name (which has no '/' or
    '@', by the card's name pattern)."""
    if "/" not in ref and "@" not in ref:
        return None
    repo, sep, rev = ref.partition("@")
    if not sep or not REPO_RE.match(repo) or ".." in repo:
        raise UserError(f"task reference {one_line(repr(ref), 120)} must be a task name "
                        "or ORG/NAME@<40-hex commit sha>")
    if not SHA_RE.match(rev):
        raise UserError(f"task reference {one_line(repr(ref), 120)}: the revision must be a full 40-hex commit sha, "
                        f"not {one_line(repr(rev), 60)} (a branch or tag can move, and a score must stay reproducible)")
    return repo, rev


def load_index() -> dict[str, tuple[str, str]]:
    """``tasks/hub.yaml``: plain task names served from the Hub, each pinned to a commit sha (an index
    entry is a promise of reproducibility, so a branch name is refused here too)."""
    path = tasks_dir() / "hub.yaml"
    if not path.is_file():
        return {}
    data = safe_load_yaml(read_text_capped(path), str(path)) or {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: must map task names to {{repo: ORG/NAME, revision: <commit sha>}}")
    index = {}
    for name, entry in data.items():
        ok = isinstance(entry, dict) and set(entry) == {"repo", "revision"}
        if not (ok and REPO_RE.match(str(entry["repo"])) and SHA_RE.match(str(entry["revision"]))):
            raise UserError(f"{path}: entry {name!r} must be {{repo: ORG/NAME, revision: <40-hex commit sha>}}")
        index[str(name)] = (str(entry["repo"]), str(entry["revision"]))
    return index


def resolve(ref: str, packaged: dict[str, Task] | None = None) -> Task:
    """The task a reference names, sha256-verified. Plain names: packaged copy first, else the index.
    ``ORG/NAME@REV`` skips the packaged copy, which cannot prove it is that revision."""
    parsed = parse_reference(ref)
    if parsed is None:
        packaged = discover() if packaged is None else packaged
        if ref in packaged:
            packaged[ref].verify()
            return packaged[ref]
        index = load_index()
        if ref not in index:
            if ref in _tasks.BROKEN:
                raise UserError(f"task {ref}: its card is invalid: {_tasks.BROKEN[ref]}")
            raise did_you_mean("task", ref, sorted({*packaged, *index}))
        repo, rev = index[ref]
        task = _from_hub(repo, rev, f"{ref} ({repo}@{rev})")
        if task.name != ref:
            raise UserError(f"tasks/hub.yaml maps {ref!r} to {repo}@{rev}, whose card names task {task.name!r}")
        return task
    return _from_hub(*parsed, ref)


def _from_hub(repo: str, rev: str, label: str) -> Task:
    """Cache first (any revision: a cached branch is what the user already has), then a pinned download."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    if not SHA_RE.match(rev):  # also guards references built elsewhere than parse_reference
        raise UserError(f"task {label}: the revision must be a full 40-hex commit sha, not {one_line(repr(rev), 60)}")
    cache = hub_cache_dir()
    try:
        folder = snapshot_download(repo, repo_type="dataset", revision=rev, local_files_only=True,
                                   cache_dir=cache)
    except LocalEntryNotFoundError:  # also a partial snapshot (IncompleteSnapshotError)
        folder = _download(repo, rev, label, cache)
    except _hub_errors() as exc:
        raise UserError(f"task {label}: the Hugging Face cache could not be read: {_one_line(exc)}") from None
    return _load_snapshot(Path(folder), label, repo, cache)


def _download(repo: str, rev: str, label: str, cache: Path) -> str:
    if offline():
        raise UserError(f"task {label}: not packaged and not in the Hugging Face cache {cache}, and offline "
                        f"mode is on (HF_HUB_OFFLINE=1); fetch it once online with `valuebench hub pull "
                        f"{repo}@<commit sha>`")
    if not SHA_RE.match(rev):
        raise UserError(f"task {label}: downloads must be pinned to a full 40-hex commit sha, not {rev!r}: a "
                        f"branch or tag can move, and a score must stay reproducible")
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo, repo_type="dataset", revision=rev, cache_dir=cache)
    except _hub_errors() as exc:
        raise UserError(f"task {label}: download from the Hugging Face Hub failed: {_one_line(exc)}") from None


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return False


def _load_snapshot(folder: Path, label: str, repo: str, cache: Path | None = None) -> Task:
    cache = hub_cache_dir() if cache is None else cache
    if not _inside(folder, cache) or not SHA_RE.match(folder.name):
        raise UserError(f"task {label}: the resolved snapshot is not a commit folder inside the cache {cache}")
    card = folder / "README.md"
    if not card.is_file() or not _inside(card, cache):
        raise UserError(f"task {label}: the snapshot has no README.md task card inside the cache")
    check_size(card, what=f"task {label}: README.md")
    try:
        task = load_task_card(card, check_folder_name=False)  # the folder is a commit sha, not the task name
    except UserError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UserError(f"task {label}: unreadable card ({type(exc).__name__}: {one_line(exc)})") from None
    for data in (task.metadata.ground_truth, *task.metadata.replicates):
        path = folder / data.path
        if not _inside(path, cache) or not path.resolve().is_relative_to(folder.resolve().parent.parent):
            raise UserError(f"task {label}: data file {data.path!r} resolves outside the cached repo")
        check_size(path, what=f"task {label}: {data.path}")
    try:  # verify and parse now: a stranger's file with a text cell is a user error, not a crash later
        task.verify()
        task.matrix  # noqa: B018
    except (ValueError, TypeError) as exc:
        raise UserError(f"task {label}: unreadable matrix ({one_line(exc)})") from None
    task.source = f"{repo}@{folder.name}"  # snapshot folders are named by the resolved commit sha
    return task


def push_task(name: str, repo: str, *, private: bool = False, token: str | None = None) -> str:
    """Upload a task folder as a dataset repo and return the commit sha, so users can pin ``repo@sha``.

    Every data file is sha256-checked first: a corrupted task must never reach the Hub, where its card
    would lend it credibility. The token comes from HF_TOKEN / the login file unless passed."""
    if not REPO_RE.match(repo):
        raise UserError(f"--repo must look like ORG/NAME, got {repo!r}")
    task = resolve(name)
    task.verify()  # explicit, whatever resolve does: this is the guarantee push makes
    if offline():
        raise UserError(f"cannot push task {task.name}: offline mode is on (HF_HUB_OFFLINE=1)")
    from huggingface_hub import HfApi, get_token

    try:
        if token is None and get_token() is None:
            raise UserError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
        api = HfApi(token=token)
        api.create_repo(repo, repo_type="dataset", exist_ok=True, private=private)
        info = api.upload_folder(folder_path=str(task.folder), repo_id=repo, repo_type="dataset",
                                 commit_message=f"valuebench task {task.name} v{task.metadata.version}",
                                 ignore_patterns=[".*", "**/.*"])
    except _hub_errors() as exc:
        raise UserError(f"pushing task {task.name} to {repo} failed: {_one_line(exc)}") from None
    return info.oid


def _hub_errors() -> tuple[type[BaseException], ...]:
    """What the Hub client raises for user-side problems (HTTP status, no token, no connection, bad id)."""
    from huggingface_hub.errors import HFValidationError

    errors: list[type[BaseException]] = [OSError, HFValidationError]
    for transport in ("httpx2", "httpx"):  # connection errors of whichever HTTP client this version uses
        try:
            errors.append(importlib.import_module(transport).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
