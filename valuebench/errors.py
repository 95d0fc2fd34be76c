"""The one exception type a user can cause.

Anything raised as ``UserError`` is the user's to fix (bad id, bad file, bad option): the CLI prints its
message on one line and exits with status 2, without a traceback. Everything else is a bug and keeps its
traceback.
"""


class UserError(Exception):
    """A problem with the user's input, reported as one clear line."""


def did_you_mean(kind: str, name: str, valid: list[str]) -> "UserError":
    """Build the standard 'unknown X' error: the closest valid names first ("did you mean"), then all of them."""
    import difflib

    listed = ", ".join(sorted(valid)) if valid else "(none registered)"
    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=2, cutoff=0.6)
    if not close:  # a prefix or a fragment of a long task name ("ccai-21" for a task over it)
        close = sorted(v for v in valid if len(str(name)) >= 3 and str(name).lower() in str(v).lower())[:3]
    hint = f" did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return UserError(f"unknown {kind} {name!r};{hint} valid {kind}s: {listed}")


def invalid_field(exc, what: str = "top level") -> str:
    """'<field path>: <message>' for the first error of a pydantic ``ValidationError`` (``what`` when the error
    is about the whole object), so every file format reports a bad field the same way."""
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc']) or what}: {first['msg']}"
