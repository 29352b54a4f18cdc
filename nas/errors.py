"""User-facing errors: the CLI prints their message alone, never a traceback."""


class UserError(Exception):
    """Bad input from the user; the message names the file, the field and what is legal."""
