"""``probe``: read a text with a checkpoint; write its states, gates, predictions, saliency and
trajectory as JSON, or as a standalone HTML page of plots."""

from __future__ import annotations

from pathlib import Path

from ..errors import LyricdemoError
from .checkpoints import add_checkpoint_command, resolve_checkpoint, set_threads


def add_parser(sub) -> None:
    from ..activations import SELECT_BY
    from ..probe import DEFAULT_TOP_K, MAX_PROBE_TOKENS

    p = add_checkpoint_command(sub, "probe", cmd_probe, help="read a text with a checkpoint; write its states, gates, "
                               "predictions, saliency and trajectory as JSON, or as a standalone HTML page of plots")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="the text the model reads (\\n in a shell string is a line break)")
    src.add_argument("--text-file", help="read the text from this UTF-8 file")
    p.add_argument("--out", required=True, help="FILE.json (the data) or FILE.html (a standalone page of the plots)")
    p.add_argument("--max-tokens", type=int, default=MAX_PROBE_TOKENS, help="refuse longer texts (at most 2,000)")
    p.add_argument("--truncate", action="store_true", help="read only the first --max-tokens tokens of a longer text")
    p.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help="next-token candidates kept per position")
    p.add_argument("--position", type=int, default=None,
                   help="saliency of this position (default: the last one that predicts a token of the text; "
                        "negative counts from the end)")
    p.add_argument("--connectivity", action="store_true",
                   help="also the full saliency matrix (one row per position; short texts only)")
    p.add_argument("--layer", type=int, default=0, help="HTML: the layer shown (1 = first; default the last)")
    p.add_argument("--unit", type=int, default=None, help="HTML: the unit the text is coloured by (default the top one)")
    p.add_argument("--select-by", default="line starts", choices=SELECT_BY,
                   help="HTML: positions whose units are ranked ('find units that fire here')")
    p.add_argument("--select", default="", help="HTML: the character/word or positions (0, 5, 9-12) for --select-by")
    p.add_argument("--no-arrays", action="store_true", help="JSON: leave out the (T, units) states and gates")
    p.add_argument("--threads", type=int, default=1, help="torch threads (batch-1 work is fastest on one)")


def cmd_probe(args) -> int:
    """Read a text with a checkpoint and write what the visualizer shows: JSON data or an HTML page."""
    import json
    import time

    from ..checkpoint import load_checkpoint
    from ..probe import connectivity, probe
    from ..probe_page import probe_html, probe_notes

    out = Path(args.out)
    fmt = {".json": "json", ".html": "html", ".htm": "html"}.get(out.suffix.lower())
    if fmt is None:
        raise LyricdemoError(f"--out must end in .json (the data) or .html (a page of the plots); got {args.out!r}.")
    set_threads(args.threads)
    if args.text_file:
        try:
            text = Path(args.text_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise LyricdemoError(f"Cannot read {args.text_file!r} as UTF-8 text: {e}") from None
    else:
        text = args.text.replace("\\n", "\n")
    ckpt = load_checkpoint(resolve_checkpoint(args.checkpoint))
    t0 = time.perf_counter()
    p = probe(ckpt.model, ckpt.vocab, ckpt.tokenizer, text, max_tokens=args.max_tokens, truncate=args.truncate,
              top_k=args.top_k, saliency_at="auto" if args.position is None else args.position)
    conn = connectivity(ckpt.model, ckpt.vocab, ckpt.tokenizer, text) if args.connectivity else None
    seconds = time.perf_counter() - t0
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        layer = (args.layer - 1) if args.layer else p.num_layers - 1
        page = probe_html(p, layer=layer, unit=args.unit, select_by=args.select_by, select_value=args.select,
                          title=f"lyricdemo · {ckpt.name}", connectivity=conn)
        out.write_text(page, encoding="utf-8")
    else:
        d = p.to_dict(arrays=not args.no_arrays)
        d["notes"] = probe_notes(p)
        d["model"].update(checkpoint=ckpt.name, describe=ckpt.model.describe(), tokenizer=ckpt.data_config.tokenizer)
        if conn is not None:
            d["connectivity"] = {"targets": conn.targets, "matrix": conn.matrix.round(8).tolist(),
                                 "reads_future": conn.reads_future}
        out.write_text(json.dumps(d, ensure_ascii=False, allow_nan=False, separators=(",", ":")), encoding="utf-8")
    print(f"model: {ckpt.describe()}")
    for note in probe_notes(p):
        print(f"note: {note}")
    bits = p.surprisal_bits()
    print(f"read {len(p.tokens)} tokens in {seconds:.2f} s" + (f"; mean surprisal {bits:.2f} bits/token" if bits else ""))
    print(f"wrote {out} ({out.stat().st_size / 1024:,.0f} KiB, {fmt})")
    return 0
