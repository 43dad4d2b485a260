"""The one exception type for bad input the user can fix: the CLI prints it as one line and exits 1."""


class InputError(Exception):
    """Bad input: the message names the file (or option) and the problem, and what to do if that is not obvious."""
