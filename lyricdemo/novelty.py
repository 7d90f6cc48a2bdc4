"""The memorization meter: how much of a generated text is copied from the training text.

A model whose training perplexity reaches 1.0 has learned its corpus by heart, and
its "new" lyrics are old lines stitched together.  This module measures it, for
every generated text, against the training text:

- the longest substring copied verbatim (its length, and where it is in both texts);
- the share of the generated text's character n-grams (n = 4 and 8) found in the corpus;
- the copied spans: maximal stretches of at least ``threshold`` characters that occur
  in the corpus, for highlighting.  The threshold adapts to the corpus's script
  (``copy_threshold``): 8 characters where words are not spaced (Chinese: 8 syllables,
  4-5 words), 6 words' worth of characters where they are (English: ~32).

All three come from one quantity, the *matching statistics* of the text against
the corpus::

    ms[i] = length of the longest substring of the text ending at i that occurs in the corpus

    text   我 想 你 在 远 方 啊
    ms     1  2  3  4  5  6  1      (corpus has "我想你在远方", not "方啊")

- the longest copy is ``max(ms)``;
- the n-gram ending at i occurs in the corpus exactly when ``ms[i] >= n``;
- a copied span ends at i when ``ms[i] >= threshold`` and it cannot grow to the
  right (``ms[i+1] <= ms[i]``); it starts at ``i - ms[i] + 1``.

``CorpusIndex`` builds a suffix automaton of the corpus once (linear time: about
2n states, each with its outgoing characters) and then reads a text in one linear
pass, following a transition when the match can grow and a suffix link when it
cannot.  Each state remembers where its strings first end in the corpus, so every
match also has a corpus position (and line).  The index is never changed after it
is built: one index can serve every user of the app at once.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from .errors import LyricdemoError

DEFAULT_THRESHOLD = 8                 # characters, where words are not spaced (Chinese)
THRESHOLD_WORDS = 6                   # words, where they are (English): 8 characters is ~1.5 English words
SPACED_SHARE = 0.05                   # a text whose characters are >= 5% spaces spaces its words
DEFAULT_NGRAM_SIZES = (4, 8)
MAX_CORPUS_CHARS = 2_000_000          # a pure-Python automaton: ~1 s and a few hundred MB at this size
MAX_TEXT_CHARS = 1_000_000


@dataclass(frozen=True)
class CopiedSpan:
    """``text[start:end]`` occurs verbatim in the corpus at ``corpus[corpus_start:corpus_end]``
    (its first occurrence there), which begins on corpus line ``corpus_line`` (1-based)."""

    start: int
    end: int
    corpus_start: int
    corpus_end: int
    corpus_line: int
    text: str

    @property
    def length(self) -> int:
        return self.end - self.start

    def to_dict(self) -> dict:
        d = asdict(self)
        d["length"] = self.length
        return d


@dataclass(frozen=True)
class MemorizationReport:
    """How much of one text is copied from the corpus (see the module docstring).

    ``ngram_share[n]`` counts n-gram *occurrences* (positions of the text), not distinct
    n-grams; it is None when the text is shorter than n.  ``spans`` are the maximal
    copies of at least ``threshold`` characters; they never nest but may overlap, and
    ``highlight_ranges()`` merges them for display.  ``copied_share`` is the fraction of
    the text's characters covered by a span.
    """

    text_length: int
    corpus_length: int
    longest: CopiedSpan | None                     # None only for an empty text
    ngram_share: dict[int, float | None]
    threshold: int
    spans: tuple[CopiedSpan, ...] = field(repr=False)
    copied_chars: int
    matching: tuple[int, ...] = field(repr=False)  # ms[i] for each character of the text

    @property
    def longest_length(self) -> int:
        return self.longest.length if self.longest is not None else 0

    @property
    def copied_share(self) -> float:
        return self.copied_chars / self.text_length if self.text_length else 0.0

    def highlight_ranges(self) -> list[tuple[int, int]]:
        """The spans merged into disjoint ``(start, end)`` ranges of the text, in order."""
        merged: list[list[int]] = []
        for s in self.spans:                       # spans are sorted by start and end
            if merged and s.start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], s.end)
            else:
                merged.append([s.start, s.end])
        return [(a, b) for a, b in merged]

    def summary(self) -> str:
        """One plain line for a person (the CLI's; the app's, in both languages, is
        ``ui/wording.memorization_summary``)."""
        if self.longest is None:
            return "The text is empty."
        L = self.longest
        parts = [f"longest verbatim copy: {L.length} chars" + (f" (corpus line {L.corpus_line})" if L.length else "")]
        parts += [f"{n}-grams in corpus: {share:.0%}" for n, share in sorted(self.ngram_share.items())
                  if share is not None]
        parts.append(f"copies of ≥{self.threshold} chars: {len(self.spans)} ({self.copied_share:.0%} of the text)")
        return "; ".join(parts) + "."

    def to_dict(self) -> dict:
        return {
            "text_length": self.text_length, "corpus_length": self.corpus_length,
            "longest": self.longest.to_dict() if self.longest is not None else None,
            "longest_length": self.longest_length,
            "ngram_share": {str(n): s for n, s in self.ngram_share.items()},
            "threshold": self.threshold, "spans": [s.to_dict() for s in self.spans],
            "copied_chars": self.copied_chars, "copied_share": self.copied_share,
            "summary": self.summary(),
        }


def copy_threshold(corpus: str) -> int:
    """The copy threshold that suits ``corpus``'s script: ``DEFAULT_THRESHOLD`` characters for text whose
    words are not spaced (Chinese), else ``THRESHOLD_WORDS`` words of its mean length with the space after
    (never under ``DEFAULT_THRESHOLD``).  Read from the first 200,000 characters."""
    head = corpus[:200_000]
    chars = sum(1 for c in head if c != "\n")
    spaces = head.count(" ")
    if not chars or spaces < SPACED_SHARE * chars:
        return DEFAULT_THRESHOLD
    words = head.split()
    per_word = sum(len(w) for w in words) / max(len(words), 1) + 1
    return max(DEFAULT_THRESHOLD, round(THRESHOLD_WORDS * per_word))


class CorpusIndex:
    """A suffix automaton of the corpus, built once; ``check(text)`` reads a text against it.

    States are stored in parallel lists (faster and smaller than one object per state):
    ``_next[v]`` maps a character to the next state, ``_link[v]`` is the suffix link,
    ``_len[v]`` the length of the longest string of v, and ``_end[v]`` the corpus
    position where the strings of v first end.
    """

    def __init__(self, corpus: str, max_chars: int = MAX_CORPUS_CHARS):
        if not isinstance(corpus, str):
            raise LyricdemoError(f"The corpus must be text; got {type(corpus).__name__}.")
        if len(corpus) > max_chars:
            raise LyricdemoError(f"The corpus has {len(corpus):,} characters; the memorization meter "
                                 f"indexes at most {max_chars:,}.", code="corpus_too_large", limit=max_chars)
        self.corpus = corpus
        nxt: list[dict[str, int]] = [{}]
        link, length, end = [-1], [0], [-1]
        last = 0
        for pos, c in enumerate(corpus):
            cur = len(length)
            nxt.append({})
            link.append(0)
            length.append(length[last] + 1)
            end.append(pos)
            p = last
            while p != -1 and c not in nxt[p]:
                nxt[p][c] = cur
                p = link[p]
            if p != -1:
                q = nxt[p][c]
                if length[p] + 1 == length[q]:
                    link[cur] = q
                else:                                  # split q: a clone keeps the shorter strings
                    clone = len(length)
                    nxt.append(dict(nxt[q]))
                    link.append(link[q])
                    length.append(length[p] + 1)
                    end.append(end[q])
                    while p != -1 and nxt[p].get(c) == q:
                        nxt[p][c] = clone
                        p = link[p]
                    link[q] = link[cur] = clone
            last = cur
        self._next, self._link, self._len, self._end = nxt, link, length, end
        self._line_starts = [0] + [i + 1 for i, ch in enumerate(corpus) if ch == "\n"]
        self.threshold = copy_threshold(corpus)     # the copy threshold of ``check`` unless it is given

    def __len__(self) -> int:
        return len(self.corpus)

    @property
    def num_states(self) -> int:
        return len(self._len)

    def __contains__(self, s: str) -> bool:
        v = 0
        for c in s:
            v = self._next[v].get(c, -1)
            if v < 0:
                return False
        return True

    def matching_statistics(self, text: str) -> tuple[list[int], list[int]]:
        """``ms[i]`` (see the module docstring) and, for each i, a corpus position where
        ``text[i - ms[i] + 1 : i + 1]`` ends (-1 when ``ms[i] == 0``).  One linear pass."""
        nxt, link, length, end = self._next, self._link, self._len, self._end
        ms: list[int] = []
        ends: list[int] = []
        v, n = 0, 0
        for c in text:
            while v and c not in nxt[v]:
                v = link[v]
                n = length[v]
            w = nxt[v].get(c)
            if w is None:                               # c is not in the corpus at all
                v, n = 0, 0
                ends.append(-1)
            else:
                v, n = w, n + 1
                ends.append(end[w])                     # the match is a suffix of w's strings
            ms.append(n)
        return ms, ends

    def _span(self, text: str, i: int, n: int, corpus_end: int) -> CopiedSpan:
        cs = corpus_end - n + 1
        return CopiedSpan(start=i - n + 1, end=i + 1, corpus_start=cs, corpus_end=corpus_end + 1,
                          corpus_line=bisect.bisect_right(self._line_starts, cs), text=text[i - n + 1:i + 1])

    def check(self, text: str, threshold: int | None = None,
              ngram_sizes: Sequence[int] = DEFAULT_NGRAM_SIZES) -> MemorizationReport:
        """The ``MemorizationReport`` of ``text`` against this corpus; copies of at least ``threshold``
        characters (None: ``self.threshold``, the one that suits the corpus's script)."""
        threshold = self.threshold if threshold is None else threshold
        if not isinstance(text, str):
            raise LyricdemoError(f"The text to check must be text; got {type(text).__name__}.")
        if len(text) > MAX_TEXT_CHARS:
            raise LyricdemoError(f"The text has {len(text):,} characters; the meter checks at most {MAX_TEXT_CHARS:,}.")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or not 1 <= threshold <= 10_000:
            raise LyricdemoError(f"The copy threshold must be a whole number from 1 to 10,000; got {threshold!r}.")
        sizes = tuple(ngram_sizes)
        if any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10_000 for n in sizes):
            raise LyricdemoError(f"The n-gram sizes must be whole numbers from 1 to 10,000; got {list(sizes)}.")

        ms, ends = self.matching_statistics(text)
        T = len(text)
        share: dict[int, float | None] = {}
        for n in sizes:
            total = T - n + 1
            share[n] = sum(1 for i in range(n - 1, T) if ms[i] >= n) / total if total > 0 else None

        longest = None
        if T:
            best = max(range(T), key=ms.__getitem__)     # the first of the longest
            if ms[best]:
                longest = self._span(text, best, ms[best], ends[best])
            else:
                longest = CopiedSpan(0, 0, 0, 0, 0, "")

        spans = []
        covered_to, copied = 0, 0                        # union length of the spans, left to right
        for i in range(T):
            n = ms[i]
            if n >= threshold and (i + 1 == T or ms[i + 1] <= n):     # right-maximal
                span = self._span(text, i, n, ends[i])
                spans.append(span)
                copied += span.end - max(span.start, covered_to)
                covered_to = span.end
        return MemorizationReport(text_length=T, corpus_length=len(self.corpus), longest=longest,
                                  ngram_share=share, threshold=threshold, spans=tuple(spans),
                                  copied_chars=copied, matching=tuple(ms))


def check_memorization(text: str, corpus: str, threshold: int | None = None,
                       ngram_sizes: Sequence[int] = DEFAULT_NGRAM_SIZES) -> MemorizationReport:
    """One-off check (builds the index each call; keep a ``CorpusIndex`` to check many texts)."""
    return CorpusIndex(corpus).check(text, threshold, ngram_sizes)


@dataclass(frozen=True)
class Repetition:
    """A loop in a generated text: ``unit`` (a line, or a short run of characters) ``count`` times."""

    unit: str
    count: int
    kind: str                                      # "line" or "run"

    @property
    def shown(self) -> str:
        """The unit as a summary quotes it (cut after 12 characters)."""
        return self.unit if len(self.unit) <= 12 else self.unit[:12] + "…"

    def summary(self) -> str:
        """Plain English (the app's, in both languages: ``ui/wording.repetition_summary``)."""
        if self.kind == "line":
            return f"repeats one line {self.count}× (“{self.shown}”)"
        return f"repeats “{self.shown}” {self.count}× in a row"


MIN_LINE_REPEATS = 3
MIN_RUN_REPEATS = 4


def repetition(text: str, max_unit: int = 12) -> Repetition | None:
    """The worst loop in ``text``, or None: the most repeated line (at least ``MIN_LINE_REPEATS``
    times, lines of 2+ characters), else the longest back-to-back run of a unit of up to ``max_unit``
    characters (at least ``MIN_RUN_REPEATS`` times: 啊啊啊啊, 爱你爱你爱你爱你).  Greedy decoding falls into
    such loops; the copy meter alone does not see them (a loop of a new line is "new")."""
    counts: dict[str, int] = {}
    for line in text.split("\n"):
        line = line.strip()
        if len(line) >= 2:
            counts[line] = counts.get(line, 0) + 1
    if counts:
        line, n = max(counts.items(), key=lambda kv: kv[1])
        if n >= MIN_LINE_REPEATS:
            return Repetition(line, n, "line")
    best: Repetition | None = None
    T = len(text)
    for p in range(1, max_unit + 1):
        i = 0
        while i + p <= T:
            n = 1
            while text[i + n * p:i + (n + 1) * p] == text[i:i + p] and i + (n + 1) * p <= T:
                n += 1
            unit = text[i:i + p]
            if n >= MIN_RUN_REPEATS and unit.strip() and (best is None or n * p > best.count * len(best.unit)):
                best = Repetition(unit, n, "run")
            i += max(1, (n - 1) * p) if n > 1 else 1
    return best
