"""Command line: ``python -m lyricdemo {inspect,fetch,train,generate,probe} ...``.

Each subcommand is a thin shell over the library: it parses arguments, calls the
library, prints.  A ``LyricdemoError`` is printed as a plain message (exit code 2),
never as a traceback.
"""

from __future__ import annotations

import argparse
import sys

from .errors import LyricdemoError


def _add_data_args(p: argparse.ArgumentParser, *, defaults=None) -> None:
    from .data import DataConfig

    d = defaults or DataConfig()
    p.add_argument("--file", default=None, help="a .txt or .zip of UTF-8 text (default: the d2l corpus in data/)")
    p.add_argument("--clean", default=d.clean, choices=["none", "d2l", "lyrics"], help="cleaning preset")
    p.add_argument("--tokenizer", default=d.tokenizer, choices=["char", "word"], help="characters or jieba words")
    p.add_argument("--newline", default=d.newline, choices=["token", "space"], help="a line break becomes ...")
    p.add_argument("--min-freq", type=int, default=d.min_freq, help="rarer training tokens become <unk>")
    p.add_argument("--reserved", nargs="*", default=list(d.reserved_tokens), help="e.g. <pad> <bos> <eos>")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction, help="last share of lines held out")
    p.add_argument("--max-tokens", type=int, default=d.max_tokens, help="keep the first N training tokens (0 = all)")


def _data_config(args):
    from .data import DataConfig

    return DataConfig(source=args.file, clean=args.clean, tokenizer=args.tokenizer, newline=args.newline,
                      min_freq=args.min_freq, reserved_tokens=tuple(args.reserved),
                      val_fraction=args.val_fraction, max_tokens=args.max_tokens)


def _show(tok: str) -> str:
    return {"\n": "\\n", " ": "␠", "\u3000": "␣(全角)"}.get(tok, tok)


def cmd_inspect(args) -> int:
    from .data import load_dataset
    from .stats import RawStats, corpus_stats

    cfg = _data_config(args)
    ds = load_dataset(cfg)
    raw, st = RawStats.of(ds.raw), corpus_stats(ds, top=args.top)
    rows = [
        ("file", f"{raw.name}  ({raw.size_bytes:,} bytes, sha256 {raw.sha256[:16]}...)"),
        ("lines (raw)", f"{raw.lines:,}"),
        ("characters (raw, no line breaks)", f"{raw.chars:,}  ({raw.distinct_chars:,} distinct)"),
        ("settings", f"clean={cfg.clean} tokenizer={cfg.tokenizer} newline={cfg.newline} min_freq={cfg.min_freq}"),
        ("lines train / validation", f"{st.train_lines:,} / {st.val_lines:,}"),
        ("training tokens", f"{st.tokens:,}  (mean {st.mean_token_chars:.2f} chars per token)"),
        ("distinct training tokens", f"{st.types:,}"),
        (f"vocabulary size (min_freq={cfg.min_freq})", f"{st.vocab_size:,}  (incl. <unk>)"),
        ("singletons (seen once)", f"{st.singletons:,}  ({st.singletons / max(st.types, 1):.0%} of types)"),
        ("validation tokens", f"{st.val_tokens:,}"),
        ("validation <unk> rate", f"{st.val_unk_rate:.2%}"),
        ("coverage", "  ".join(f"{m:.0%}:{k}" for m, k in st.coverage_marks.items()) + "  (share: top-k types)"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(f"\ntop {args.top} tokens: " + "  ".join(f"{_show(t)}:{f}" for t, f in st.top_tokens))
    return 0


def cmd_fetch(args) -> int:
    from .corpus import fetch_corpus

    path = fetch_corpus(urls=args.url or None) if args.url else fetch_corpus()
    print(f"corpus ready: {path}")
    return 0


COMMANDS = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lyricdemo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect", help="corpus and vocabulary statistics")
    _add_data_args(p)
    p.add_argument("--top", type=int, default=20, help="how many frequent tokens to list")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("fetch", help="download the d2l corpus into data/ (checksum verified)")
    p.add_argument("--url", action="append", help="a mirror URL to try (repeatable)")
    p.set_defaults(func=cmd_fetch)

    for name, (register, _) in COMMANDS.items():
        register(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LyricdemoError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
