"""Writing a submission folder (from a method or from vectors files) and proposing it as a Hub pull request.

The folder is assembled in a staging directory next to its destination, validated with the same
``load_submission`` the leaderboard uses, and only then renamed into place: a failed ``submit`` never
leaves a half-written submission that ``submissions check`` would later trip over.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

import yaml

from valuebench import __version__
from valuebench.errors import UserError
from valuebench.io import atomic_write_text
from valuebench.leaderboard.submissions import (
    SIMILARITY_SUFFIX,
    LeakRule,
    Submission,
    SubmissionMeta,
    check_name,
    load_submission,
    read_similarity_csv,
)
from valuebench.methods.base import Method
from valuebench.methods.cache import represent_cached
from valuebench.values import load_value_set
from valuebench.vectors import Representation, read_vectors, validate, write_safetensors

MAINTAINERS = "valuebench maintainers"


def git_author() -> str | None:
    """``git config user.name`` of the current folder, if git and a name are there (no network)."""
    import subprocess

    try:
        out = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def submit_authors(given: list[str] | None, baseline: bool) -> list[str]:
    """Who an entry is by: ``--author``, else git's user.name; a maintainers' baseline may default to
    valuebench's maintainers. A user's entry never silently gets the maintainers' name."""
    if given:
        return given
    if baseline:
        return [MAINTAINERS]
    name = git_author()
    if not name:
        raise UserError("who is the author? give --author NAME (repeatable); git config user.name is not set")
    return [name]


def method_meta(method: Method, name: str, *, baseline: bool = False, **overrides) -> dict:
    """Metadata for an entry made from one of valuebench's registered methods. ``baseline`` is the maintainers'
    flag for the board's reference rows (``submit --baseline``); a user's entry is never one."""
    meta = {"name": name, "method": method.name, "description": method.description,
            "authors": [MAINTAINERS] if baseline else [], "subject_models": [],
            "code": f"valuebench {__version__}: {type(method).__module__}.{type(method).__name__}",
            "license": "Apache-2.0", "date": dt.date.today().isoformat(), "derived_from": ["value statements"],
            "method_config": method.config(), "baseline": baseline}
    meta.update({k: v for k, v in overrides.items() if v not in (None, [], "")})
    return meta


def represent_value_sets(method: Method, value_sets: list[str]) -> dict[str, Representation]:
    """The method's validated vectors for each value set, rows in value-set order."""
    out = {}
    for name in value_sets:
        vs = load_value_set(name)
        rep = validate(represent_cached(method, vs), vs.ids, f"method {method.name} on {name}")
        out[name] = Representation(vs.ids, rep.aligned(vs.ids), {"method": method.name, "value_set": name})
    return out


def read_vector_files(pairs: list[tuple[Path, str]]) -> dict[str, Representation | Path]:
    """User-supplied files per value set: vectors are validated now; similarity CSVs are kept as files."""
    out: dict[str, Representation | Path] = {}
    for path, value_set in pairs:
        ids = load_value_set(value_set).ids
        if value_set in out:
            raise UserError(f"two files given for value set {value_set!r}")
        if str(path).endswith(SIMILARITY_SUFFIX):
            read_similarity_csv(Path(path), ids)
            out[value_set] = Path(path)
        else:
            rep = read_vectors(Path(path), ids)
            out[value_set] = Representation(ids, rep.aligned(ids), {"value_set": value_set})
    return out


def write_submission(root: Path, meta: dict, files: dict[str, Representation | Path], *,
                     force: bool = False, rule: LeakRule | None = None) -> Submission:
    """Create ``root/<name>/`` with meta.yaml and one file per value set, validated before it appears."""
    name = check_name(meta["name"])
    SubmissionMeta.model_validate(meta)  # fail on bad metadata before touching the disk
    dest = Path(root) / name
    if dest.exists() and not force:
        raise UserError(f"submission {dest} already exists; pass --force to replace it")
    Path(root).mkdir(parents=True, exist_ok=True)
    tmp_parent = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        staging = tmp_parent / name
        staging.mkdir()
        atomic_write_text(staging / "meta.yaml", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
        for value_set, item in files.items():
            if isinstance(item, Path):
                shutil.copyfile(item, staging / f"{value_set}{SIMILARITY_SUFFIX}")
            else:
                write_safetensors(staging / f"{value_set}.safetensors", item)
        load_submission(staging, rule)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        shutil.rmtree(tmp_parent, ignore_errors=True)
    return load_submission(dest, rule)


def push_submission(folder: Path, repo: str, *, repo_type: str = "space", token: str | None = None) -> str:
    """Open a pull request adding ``submissions/<name>/`` to ``repo``; returns the PR URL.

    One commit with ``create_pr=True``: maintainers review it like any PR, and the Space's build
    recomputes the scores, so nothing in the PR is trusted.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    folder = Path(folder)
    if "/" not in repo or repo.count("/") != 1:
        raise UserError(f"--repo must look like ORG/NAME, got {repo!r}")
    ops = [CommitOperationAdd(path_in_repo=f"submissions/{folder.name}/{p.name}", path_or_fileobj=str(p))
           for p in sorted(folder.iterdir()) if p.is_file()]
    try:
        info = HfApi(token=token).create_commit(
            repo_id=repo, repo_type=repo_type, operations=ops, create_pr=True,
            commit_message=f"Add submission {folder.name}",
            commit_description=f"valuebench submission `{folder.name}` (validated locally with "
                               "`valuebench submissions check`).")
    except Exception as exc:  # offline mode, auth, HTTP: all the user's to fix, report in one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"could not open a pull request on {repo}: {first}") from None
    return getattr(info, "pr_url", None) or str(info)
