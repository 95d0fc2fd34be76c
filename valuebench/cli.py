"""``valuebench`` command line: one sub-command module per idea under ``valuebench/commands/``.

Every module there exposes ``register(subparsers)``; it adds its parsers and sets ``func`` on them. The
CLI turns ``UserError`` into one line on stderr and exit code 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from valuebench import __version__
from valuebench.errors import UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors: one line, exit 2
        self.exit(2, f"valuebench: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    import valuebench.commands as commands

    parser = _Parser(prog="valuebench", description="A benchmark for value representations of language models.")
    parser.add_argument("--version", action="version", version=f"valuebench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"valuebench.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
    except UserError as exc:
        print(f"valuebench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("valuebench: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
