"""What users see of the core: the one exception, and the notes that come with a result.

Every check of user input (a file, a number, a prefix, a checkpoint) raises
``LyricdemoError`` with a message written for a person, not a traceback.  The UI
turns it into a visible error, the CLI prints it and exits with status 2.

The core words its messages in plain, factual English.  A message the app shows in
both languages also carries a ``code`` (the kind of message) and ``data`` (its
numbers): ``ui/wording.py`` holds the other half, keyed on the code, so the core
carries no UI copy and the UI never parses English.
"""

from __future__ import annotations


class LyricdemoError(ValueError):
    """A clear, user-facing problem with the input. The message says what and why.

    ``code`` (optional) names the problem for the presenting layer, ``data`` its numbers."""

    def __init__(self, message: str = "", *, code: str | None = None, **data):
        super().__init__(message)
        self.code = code
        self.data = data


class Note(str):
    """A plain English remark that comes with a result (a training warning, a note on a generation).

    It is a ``str`` (printed, joined and compared as one); ``code`` names the kind of remark and
    ``data`` holds its numbers, for the presenting layer (``ui/wording.py``)."""

    code: str
    data: dict

    def __new__(cls, text: str, code: str, **data):
        self = super().__new__(cls, text)
        self.code, self.data = code, data
        return self

    def __getnewargs_ex__(self):               # copy.deepcopy (dataclasses.asdict) and pickle keep the code
        return (str(self), self.code), dict(self.data)
