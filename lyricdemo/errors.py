"""The one exception users see.

Every check of user input (a file, a number, a prefix, a checkpoint) raises
``LyricdemoError`` with a message written for a person, not a traceback.  The UI
turns it into a visible error, the CLI prints it and exits with status 2.
"""


class LyricdemoError(ValueError):
    """A clear, user-facing problem with the input. The message says what and why."""
