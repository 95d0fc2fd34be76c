"""CLI sub-commands; each module registers its own parsers (see ``valuebench.cli``)."""


def split_list(raw: str | None) -> list[str] | None:
    """A comma-separated flag value as a list (blanks dropped); None when the flag was not given."""
    return [x.strip() for x in raw.split(",") if x.strip()] if raw else None
