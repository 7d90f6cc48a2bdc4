"""``inspect`` (corpus and vocabulary statistics) and ``fetch`` (the d2l corpus into data/)."""

from __future__ import annotations

from .flags import add_data_args, data_config


def add_parsers(sub) -> None:
    p = sub.add_parser("inspect", help="corpus and vocabulary statistics")
    add_data_args(p)
    p.add_argument("--top", type=int, default=20, help="how many frequent tokens to list")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("fetch", help="download the d2l corpus into data/ (checksum verified)")
    p.add_argument("--url", action="append", help="a mirror URL to try (repeatable)")
    p.set_defaults(func=cmd_fetch)


def say_corpus(args, ds) -> None:
    """Without --file the corpus in use is the d2l one in data/, else the embedded one: say which."""
    if not args.source:
        from ..sources import corpus_in_use

        print(f"corpus: {corpus_in_use().describe()}  (--file chooses another)")


def _show(tok: str) -> str:
    return {"\n": "\\n", " ": "␠", "\u3000": "␣(全角)"}.get(tok, tok)


def cmd_inspect(args) -> int:
    from ..data import load_dataset
    from ..stats import RawStats, corpus_stats

    cfg = data_config(args)
    ds = load_dataset(cfg)
    say_corpus(args, ds)
    raw, st = RawStats.of(ds.raw), corpus_stats(ds, top=args.top)
    rows = [
        ("file", f"{raw.name}  ({raw.size_bytes:,} bytes, sha256 {raw.sha256[:16]}...)"),
        ("lines (raw)", f"{raw.lines:,}"),
        ("characters (raw, no line breaks)", f"{raw.chars:,}  ({raw.distinct_chars:,} distinct)"),
        ("settings", f"clean={cfg.clean} tokenizer={cfg.tokenizer} newline={cfg.newline} min_freq={cfg.min_freq} "
                     f"unknown_words={cfg.unknown_words}"),
        ("lines train / validation", f"{st.train_lines:,} / {st.val_lines:,}"),
        ("training tokens", f"{st.tokens:,}  (mean {st.mean_token_chars:.2f} chars per token)"),
        ("distinct training tokens", f"{st.types:,}"),
        (f"vocabulary size (min_freq={cfg.min_freq})", f"{st.vocab_size:,}  (incl. <unk>)"),
        ("singletons (seen once)", f"{st.singletons:,}  ({st.singletons / max(st.types, 1):.0%} of types)"),
        ("validation tokens", f"{st.val_tokens:,}"),
        ("validation <unk> rate", f"{st.val_unk_rate:.2%}"),
        *([("validation words spelled as characters", f"{st.val_spelled:,} of {st.val_words:,} words "
            f"({st.val_spelled_rate:.2%}): not in the vocabulary, each read as its characters")]
          if cfg.tokenizer != "char" and cfg.unknown_words == "chars" else []),
        ("coverage", "  ".join(f"{m:.0%}:{k}" for m, k in st.coverage_marks.items()) + "  (share: top-k types)"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(f"\ntop {args.top} tokens: " + "  ".join(f"{_show(t)}:{f}" for t, f in st.top_tokens))
    return 0


def cmd_fetch(args) -> int:
    from ..corpus import fetch_corpus
    from ..sources import corpus_urls

    path = fetch_corpus(urls=tuple(args.url) if args.url else corpus_urls())
    print(f"corpus ready: {path}")
    return 0
