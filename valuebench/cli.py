"""``valuebench`` command line: one sub-command module per idea under ``valuebench/commands/``.

Every module there exposes ``register(subparsers)``; it adds its parsers and sets ``func`` on them.

Errors end in one line on stderr, never a traceback:

* ``UserError`` (bad id, bad file, bad option) and file-system errors about the user's paths: exit 2;
* anything else is a bug: ``valuebench: internal error: ...`` and exit 1; ``--debug`` shows the traceback;
* Ctrl-C: exit 130; a closed pipe (``valuebench tasks | head -1``): quiet, exit 141 (128 + SIGPIPE).

Python warnings (numpy's "invalid value", library deprecations) are not shown unless ``--debug`` is given or
the user chose a policy with ``-W``/``PYTHONWARNINGS``: the error line stays the only line.

Before any command runs, the arguments every command shares are checked against documented ranges
(``ARG_RANGES``: seeds >= 0, permutations and bootstrap resamples in 1..20,000, ...), ``--tasks`` and
``--methods`` lists must name something and name it once, a ``vectors:`` method takes no method options,
and an ``--output-dir`` must be a writable folder (or creatable in one), so nothing fails after the work.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import warnings

from valuebench import __version__
from valuebench.errors import UserError

#: inclusive ranges of numeric arguments, by argparse ``dest``, whatever the command
ARG_RANGES: dict[str, tuple[int | float, int | float]] = {
    "permutations": (1, 20_000),
    "bootstrap": (1, 20_000),
    "seed": (0, 2**63 - 1),
    "score_seed": (0, 2**63 - 1),
    "null_seed": (0, 2**63 - 1),
    "seeds": (1, 100_000),
    "n": (1, 100_000),
    "max_attempts": (1, 100),
    "batch_size": (1, 4_096),
    "max_new_tokens": (1, 8_192),
    "phrasings": (1, 1_000),
    "dpo_epochs": (1, 1_000),
    "dpo_replicates": (2, 10),
    "dpo_gate_z": (0.0, 10.0),
    "dpo_eval_per_value": (2, 100_000),
    "dpo_learning_rate": (1e-12, 10.0),
    "max_input_mb": (0.001, 100_000),
}
#: OS errors that are about the user's paths, not bugs
USER_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENOSPC,
               errno.EROFS, errno.ENAMETOOLONG, errno.ELOOP, errno.EDQUOT, errno.ENOTEMPTY, errno.EXDEV}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors: one line, exit 2
        self.exit(2, f"valuebench: error: {' '.join(message.split())}\n")


def _command_in(argv: list[str]) -> str | None:
    """The command word of an argument list (the first word that is not a top-level option or its value)."""
    it = iter(argv)
    for token in it:
        if token == "--max-input-mb":
            next(it, None)
        elif not token.startswith("-"):
            return token
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the module of the command named in ``argv`` is imported and registered in full (all of
    them when ``argv`` is None), the others are listed from ``commands.COMMANDS`` so ``--help`` stays fast."""
    import importlib

    from valuebench.commands import COMMANDS

    parser = _Parser(prog="valuebench", description="A benchmark for value representations of language models.")
    parser.add_argument("--version", action="version", version=f"valuebench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    parser.add_argument("--max-input-mb", type=float, metavar="MB",
                        help="largest input file read (vectors, matrices, cards); default 20 MB, the submission "
                             "limit (VALUEBENCH_MAX_INPUT_BYTES also sets it)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    wanted = _command_in(argv) if argv is not None else None
    modules = sorted({m for m, _ in COMMANDS.values()}) if argv is None else \
        [COMMANDS[wanted][0]] if wanted in COMMANDS else []
    for name in modules:
        importlib.import_module(f"valuebench.commands.{name}").register(sub)
    registered = set(sub.choices)
    for command, (_, help_line) in COMMANDS.items():
        if command not in registered:
            sub.add_parser(command, help=help_line)
    return parser


def _one_line(text: str, limit: int = 2000) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _split_list(raw: str, flag: str) -> str:
    """``a, b,a`` -> ``a,b``; an empty list (``--tasks ","``) or a repeated name is refused."""
    names = [x.strip() for x in raw.split(",") if x.strip()]
    if not names:
        raise UserError(f"{flag} {raw!r} names nothing; give comma-separated names")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UserError(f"{flag} names {', '.join(repeated)} more than once")
    return ",".join(names)


def _check_output_dir(raw: str, flag: str) -> None:
    """An output folder must be a writable folder, or creatable inside one: checked before any work."""
    path = os.path.abspath(raw)
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise UserError(f"{flag} {raw}: exists and is not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UserError(f"{flag} {raw}: folder is not writable")
        return
    parent = os.path.dirname(path)
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UserError(f"{flag} {raw}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {raw}: cannot create it, {parent} is not writable")


def check_args(args: argparse.Namespace) -> None:
    """Range and consistency checks shared by every command (see the module docstring)."""
    for dest, (lo, hi) in ARG_RANGES.items():
        value = getattr(args, dest, None)
        if value is None or isinstance(value, (str, list, bool)):
            continue
        if not (lo <= value <= hi) or value != value:
            flag = "--" + dest.replace("_", "-")
            raise UserError(f"{flag} must be between {lo:,} and {hi:,}, got {value}")
    for dest in ("tasks", "methods", "values", "value_sets"):
        raw = getattr(args, dest, None)
        if isinstance(raw, str):
            setattr(args, dest, _split_list(raw, "--" + dest.replace("_", "-")))
    method = getattr(args, "method", None)
    if isinstance(method, str) and method.startswith("vectors:"):
        given = [f for f, v in (("--model", getattr(args, "model", None)), ("--seed", getattr(args, "seed", None)),
                                ("--option", getattr(args, "option", None))) if v]
        if given:
            raise UserError(f"a vectors: file takes no method options, but {', '.join(given)} was given "
                            "(the vectors are what they are)")
        if method == "vectors:":
            raise UserError("--method vectors: needs a path, e.g. vectors:my-vectors.safetensors")
    for dest in ("output_dir",):
        raw = getattr(args, dest, None)
        if isinstance(raw, str):
            _check_output_dir(raw, "--" + dest.replace("_", "-"))


def _run(argv: list[str] | None, state: dict) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    state["debug"] = args.debug
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    check_args(args)
    if args.max_input_mb is not None:
        from valuebench.io import MAX_INPUT_ENV

        os.environ[MAX_INPUT_ENV] = str(int(args.max_input_mb * 1_000_000))
    return int(args.func(args) or 0)


def _quiet_broken_pipe() -> int:
    """The reader went away (``| head``): stop quietly. stdout is pointed at /dev/null so the interpreter's
    final flush does not raise a second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    state = {"debug": "--debug" in argv}
    if state["debug"]:  # accepted anywhere on the line, not only before the command
        argv = ["--debug", *(a for a in argv if a != "--debug")]
    with warnings.catch_warnings():
        if not state["debug"] and not sys.warnoptions:
            warnings.simplefilter("ignore")
        return _main(argv, state)


def _main(argv: list[str], state: dict) -> int:
    try:
        return _run(argv, state)
    except UserError as exc:
        print(f"valuebench: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("valuebench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except OSError as exc:
        if exc.errno not in USER_ERRNOS:
            return _internal(exc, state)
        where = f": {exc.filename}" if exc.filename else ""
        print(f"valuebench: error: {_one_line((exc.strerror or str(exc)) + where)}", file=sys.stderr)
        return 2
    except MemoryError as exc:
        return _internal(exc, state, "out of memory")
    except RecursionError as exc:
        return _internal(exc, state, "input nested too deeply")
    except Exception as exc:  # a bug: one line by default, the traceback with --debug
        return _internal(exc, state)


def _internal(exc: BaseException, state: dict, what: str | None = None) -> int:
    if state.get("debug"):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    detail = _one_line(f"{type(exc).__name__}: {exc}", 500)
    print(f"valuebench: internal error ({what or 'a bug'}): {detail} (rerun with --debug for the traceback)",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
