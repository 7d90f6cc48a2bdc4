"""Reading text the way a model reads it: the same tokenizer, line breaks and vocabulary
as its training text, and a clear account of what it does not know.

    text --split at line breaks--> lines --tokenizer--> tokens (+ the vocab's line-break token)
         --vocab.spell--> tokens (a word model's unknown word as its characters, when its data says so)
         --vocab--> ids (a token outside the vocabulary -> <unk>, listed with its position)

Two readers use it: decoding (``prepare_prefix``: the prefix a generation continues, empty
allowed, unknown tokens refused in strict mode) and the probe (``read_text``: a text to look
inside, cut or refused beyond ``MAX_PROBE_TOKENS``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from .errors import LyricdemoError, Note
from .tokenizers import Tokenizer, get_tokenizer
from .vocab import UNK, Vocab

UNKNOWN_MODES = ("unk", "strict")
MAX_PREFIX_TOKENS = 2000
MAX_PREFIX_CHARS = 20_000         # checked before tokenizing, so a huge paste costs nothing
MAX_PROBE_TOKENS = 2000

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


# ----------------------------------------------------------------------------- a prefix to continue
@dataclass(frozen=True)
class UnknownToken:
    """A prefix token the vocabulary lacks, and where it is: ``prefix[start:end]``."""

    token: str
    start: int
    end: int


@dataclass(frozen=True)
class PrefixReport:
    """What the model will read before it writes.

    ``ids`` are fed to the model in the warm-up; when the prefix is empty they hold one
    line-start token (``"\\n"``, else ``" "``), which is context only and not part of
    the text (``line_start`` is then True).
    """

    prefix: str                              # as given
    tokens: tuple[str, ...]                  # its tokens (a line break as the vocab writes it)
    ids: tuple[int, ...]                     # what the model reads (unknown -> <unk>)
    unknown: tuple[UnknownToken, ...] = ()
    line_start: bool = False
    warnings: tuple[str, ...] = ()          # plain English ``Note``s (ui/wording.py: both languages)

    @property
    def message(self) -> str:
        """The warnings as one readable line ("" when all is well)."""
        return " ".join(self.warnings)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["message"] = self.message
        return d


def _show(tokens: Sequence[UnknownToken], limit: int = 10) -> str:
    shown = ", ".join(f"{u.token!r} at {u.start}" for u in tokens[:limit])
    more = len(tokens) - limit
    return shown + (f" (and {more} more)" if more > 0 else "")


def _line_break_token(vocab: Vocab) -> str | None:
    """How this model writes a line break: ``"\\n"`` (newline="token"), ``" "`` (newline="space")."""
    for t in ("\n", " "):
        if t in vocab:
            return t
    return None


def as_tokenizer(tokenizer: Tokenizer | str) -> Tokenizer:
    """A tokenizer, or its name ("char", "word")."""
    return get_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer


def _tokens_and_spans(text: str, tok: Tokenizer, brk: str) -> tuple[list[str], list[tuple[int, int]], int]:
    """(tokens, their character spans in ``text``, the number of line breaks): each line tokenized
    on its own, each line break (``\\n``, ``\\r\\n`` or ``\\r``) written as ``brk``."""
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    breaks = list(_LINE_BREAK.finditer(text))
    for m in [*breaks, None]:
        end = m.start() if m is not None else len(text)
        offset = pos
        for t in (tok.tokenize(text[pos:end]) if end > pos else []):
            tokens.append(t)
            spans.append((offset, offset + len(t)))
            offset += len(t)
        if m is not None:
            tokens.append(brk)
            spans.append((m.start(), m.end()))
            pos = m.end()
    return tokens, spans, len(breaks)


def _spell(vocab: Vocab, tokens: list[str], spans: list[tuple[int, int]]
           ) -> tuple[list[str], list[tuple[int, int]]]:
    """The tokens as ``vocab`` reads them (``Vocab.spell``: a word it lacks becomes its characters, when its
    data says so), each character of a spelled word with its own span."""
    spelled = vocab.spelled(tokens)
    if not any(spelled):
        return tokens, spans
    out_t: list[str] = []
    out_s: list[tuple[int, int]] = []
    for t, (s, e), sp in zip(tokens, spans, spelled):
        if sp:
            out_t.extend(t)
            out_s.extend((s + i, s + i + 1) for i in range(len(t)))
        else:
            out_t.append(t)
            out_s.append((s, e))
    return out_t, out_s


def prepare_prefix(prefix: str | None, vocab: Vocab, tokenizer: Tokenizer | str,
                   unknown: str = "unk") -> PrefixReport:
    """Tokenize ``prefix`` as the model's training text was, and find what the model does not know.

    Lines are tokenized one at a time (a tokenizer never sees a line break), and each
    line break (``\\n``, ``\\r\\n`` or ``\\r``) becomes the vocab's line-break token.
    Tokens outside the vocabulary -- a rare character, an emoji, a control character --
    are listed with their character positions; with ``unknown="unk"`` they become
    ``<unk>`` and a warning says so (never silently), with ``"strict"`` they are refused.
    An empty prefix starts at the beginning of a line.
    """
    if prefix is None:
        prefix = ""
    if not isinstance(prefix, str):
        raise LyricdemoError(f"The prefix must be text; got {type(prefix).__name__}.")
    if unknown not in UNKNOWN_MODES:
        raise LyricdemoError(f"unknown must be one of {UNKNOWN_MODES}; got {unknown!r}.")
    if len(prefix) > MAX_PREFIX_CHARS:
        raise LyricdemoError(f"The prefix is too long: {len(prefix):,} characters "
                             f"(at most {MAX_PREFIX_CHARS:,}). Use its last lines.", code="prefix_too_long")
    if len(vocab) == 0:
        raise LyricdemoError("The vocabulary is empty.")
    tok = as_tokenizer(tokenizer)
    brk = _line_break_token(vocab)
    warnings: list[str] = []

    if not prefix:
        start = brk if brk is not None else ("<bos>" if "<bos>" in vocab else UNK)
        if start == UNK:
            warnings.append(Note("The vocabulary has no line break; generation starts from <unk>.", "start_at_unk"))
        return PrefixReport(prefix="", tokens=(), ids=(vocab[start],), line_start=True, warnings=tuple(warnings))

    tokens, spans, breaks = _tokens_and_spans(prefix, tok, brk if brk is not None else "\n")
    tokens, spans = _spell(vocab, tokens, spans)
    if len(tokens) > MAX_PREFIX_TOKENS:
        raise LyricdemoError(f"The prefix is too long: {len(tokens):,} tokens "
                             f"(at most {MAX_PREFIX_TOKENS:,}). Use its last lines.", code="prefix_too_long")
    if breaks and brk == " ":
        warnings.append(Note("Line breaks become spaces, as in this model's training text.", "line_breaks_as_spaces"))

    unknown_tokens = tuple(UnknownToken(t, s, e) for t, (s, e) in zip(tokens, spans) if t not in vocab)
    if unknown_tokens:
        n = len(unknown_tokens)
        if unknown == "strict":
            raise LyricdemoError(f"The prefix has {n} token(s) this model does not know (strict mode): "
                                 f"{_show(unknown_tokens)}.", code="unknown_strict", count=n)
        warnings.append(Note(f"{n} prefix token(s) are not in the vocabulary and were replaced by <unk>: "
                             f"{_show(unknown_tokens)}.", "unknown_as_unk", count=n))
    return PrefixReport(prefix=prefix, tokens=tuple(tokens), ids=tuple(vocab.encode(tokens)),
                        unknown=unknown_tokens, warnings=tuple(warnings))


# ----------------------------------------------------------------------------- a text to look inside (the probe)
@dataclass(frozen=True)
class ReadText:
    """A text as the model reads it: its tokens, their ids (unknown tokens -> <unk>, listed)."""

    text: str
    tokens: tuple[str, ...]
    ids: tuple[int, ...]
    unknown: tuple[UnknownToken, ...] = ()
    truncated: bool = False


def read_text(vocab: Vocab, tokenizer: Tokenizer | str, text: str, max_tokens: int = MAX_PROBE_TOKENS,
              truncate: bool = False) -> ReadText:
    """Tokenize ``text`` as the model's training text was (``prepare_prefix``: line breaks
    become the model's line-break token, unknown tokens become ``<unk>`` and are listed).

    A text of more than ``max_tokens`` tokens is refused with a message saying how long it is,
    or, with ``truncate=True``, cut to its first ``max_tokens`` tokens (``truncated`` says so)."""
    if not isinstance(text, str) or not text.strip():
        raise LyricdemoError("Type a text for the model to read.", code="empty_text")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_PROBE_TOKENS:
        raise LyricdemoError(f"max_tokens must be a whole number from 1 to {MAX_PROBE_TOKENS:,}; got {max_tokens!r}.")
    cut = text
    if truncate:
        # every token is at least one character, so this cut keeps >= max_tokens tokens when the text has
        # them, and stays under prepare_prefix's own limits (2,000 tokens, 20,000 characters)
        cut = text[:min(4 * max_tokens, MAX_PREFIX_CHARS)]
    elif len(text) > MAX_PREFIX_CHARS:
        raise LyricdemoError(f"The text is too long: {len(text):,} characters; the probe reads at most "
                             f"{max_tokens:,} tokens. Shorten it, or let the probe read only the beginning.",
                             code="text_too_long")
    try:
        report = prepare_prefix(cut, vocab, tokenizer, unknown="unk")
    except LyricdemoError as e:
        if e.code != "prefix_too_long":      # prepare_prefix's other complaints stand as they are
            raise
        if not truncate:
            raise LyricdemoError(f"The text is too long: more than {max_tokens:,} tokens; the probe reads at "
                                 f"most {max_tokens:,}. Shorten it, or let the probe read only the beginning.",
                                 code="text_too_long") from None
        report = prepare_prefix(text[:max_tokens], vocab, tokenizer, unknown="unk")
    tokens, ids = tuple(report.tokens), tuple(report.ids)
    truncated = len(cut) < len(text) or len(ids) > max_tokens
    if len(ids) > max_tokens and not truncate:
        raise LyricdemoError(f"The text is too long: {len(ids):,} tokens; the probe reads at most "
                             f"{max_tokens:,}. Shorten it, or let the probe read only the beginning.",
                             code="text_too_long")
    tokens, ids = tokens[:max_tokens], ids[:max_tokens]
    end = sum(len(t) for t in tokens)        # the characters read (a line break token stands for 1-2)
    unknown = tuple(u for u in report.unknown if u.start < end) if truncated else tuple(report.unknown)
    return ReadText(text=text, tokens=tokens, ids=ids, unknown=unknown, truncated=bool(truncated))
