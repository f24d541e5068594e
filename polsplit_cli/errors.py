"""User-facing errors: printed as one line with exit code 2, never as a traceback."""


class UserError(Exception):
    """A mistake in the user's input (bad file, field, flag, missing extra)."""


def missing_extra(extra: str, package: str) -> UserError:
    """The error for an optional dependency that is not installed."""
    return UserError(f"{package} is not installed: pip install 'polsplit[{extra}]'")


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, or its type name when the message is empty."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
