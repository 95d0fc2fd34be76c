"""The one exception type a user can cause.

Anything raised as ``UserError`` is the user's to fix (bad id, bad file, bad option): the CLI prints its
message on one line and exits with status 2, without a traceback. Everything else is a bug and keeps its
traceback.
"""


class UserError(Exception):
    """A problem with the user's input, reported as one clear line."""


def did_you_mean(kind: str, name: str, valid: list[str]) -> "UserError":
    """Build the standard 'unknown X' error that lists the valid choices."""
    listed = ", ".join(sorted(valid)) if valid else "(none registered)"
    return UserError(f"unknown {kind} {name!r}; valid {kind}s: {listed}")


def invalid_field(exc, what: str = "top level") -> str:
    """'<field path>: <message>' for the first error of a pydantic ``ValidationError`` (``what`` when the error
    is about the whole object), so every file format reports a bad field the same way."""
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc']) or what}: {first['msg']}"
