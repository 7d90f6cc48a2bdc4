"""Model cards: what a shipped checkpoint is, how good it is, how to make it again.

``write_card(path, dataset)`` reloads a saved checkpoint *from disk* (so every figure
is measured on the weights that ship, float16 rounding included), recomputes its
training and validation perplexity, the n-gram baselines on the same split, and the
memorization meter on a 500-character sample; it stores these under ``"card"`` in
the checkpoint's JSON and writes the Markdown card ``README.md`` beside it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import CARD, META, _json_safe, load_checkpoint
from .data import Dataset
from .generate import DecodeConfig, generate
from .ngram import baseline_perplexities
from .novelty import CorpusIndex
from .train import perplexity

SAMPLE_CHARS = 500
SAMPLE_PREFIX = "分开"
SAMPLE_DECODE = dict(strategy="sample", temperature=0.8, top_k=0, top_p=1.0, seed=0)


@dataclass
class CardFigures:
    val_ppl: float
    train_eval_ppl: float
    baselines: dict
    memorization: dict

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def measure(path: str | os.PathLike, dataset: Dataset) -> CardFigures:
    """Every number on the card, measured on the checkpoint as stored."""
    ck = load_checkpoint(path)
    val = perplexity(ck.model, dataset.val_ids)
    n = max(len(dataset.val_ids), 512)
    train_eval = perplexity(ck.model, dataset.train_ids[:n])
    baselines = baseline_perplexities(dataset.train_ids, dataset.val_ids, len(dataset.vocab))
    prefix = sample_prefix(ck.train_config)
    text = generate(ck.model, ck.vocab, ck.tokenizer, prefix,
                    DecodeConfig(length=SAMPLE_CHARS, **SAMPLE_DECODE)).continuation[:SAMPLE_CHARS]
    report = CorpusIndex(dataset.train_text).check(text)
    # Only figures are kept: a sample may hold copied lyrics, and corpus text is never committed.
    mem = {"prefix": prefix, "text_length": report.text_length, "longest_length": report.longest_length,
           "ngram_share": report.ngram_share, "copied_share": report.copied_share, "summary": report.summary()}
    return CardFigures(val_ppl=val, train_eval_ppl=train_eval, baselines=baselines, memorization=mem)


def sample_prefix(train_config) -> str:
    """The memorization sample starts where training's samples did (the first ``--prefix``): a corpus
    of Tang poems is sampled after 床前, the lyrics after 分开."""
    prefixes = train_config.sample_prefixes if train_config is not None else ()
    return prefixes[0] if prefixes and prefixes[0] else SAMPLE_PREFIX


def write_card(path: str | os.PathLike, dataset: Dataset, command: str | None = None) -> CardFigures:
    """Measure, store the figures in the checkpoint JSON, write README.md (atomically)."""
    path = Path(path)
    fig = measure(path, dataset)
    meta = json.loads((path / META).read_text(encoding="utf-8"))
    meta["card"] = _json_safe(fig.to_dict())
    if command:
        meta["command"] = command
    _replace(path / META, json.dumps(_json_safe(meta), ensure_ascii=False, indent=1, allow_nan=False))
    _replace(path / CARD, render(meta))
    return fig


def _replace(file: Path, text: str) -> None:
    tmp = file.with_name(f".{file.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, file)


def _output_layer(m: dict) -> str:
    """What the model's last layer is, as the config says (adaptive softmax, tied or a plain linear)."""
    cutoffs = m.get("adaptive_cutoffs") or ()
    if cutoffs:
        return (f"adaptive softmax (clusters at {' / '.join(map(str, cutoffs))} of {m['vocab_size']:,} tokens: "
                "frequent tokens in the head, rare ones in smaller tails)")
    if m.get("tie_weights"):
        return "tied to the embedding" + (" (through a projection)" if m["embed_dim"] != m["hidden_size"] else "")
    return "linear over the vocabulary"


def render(meta: dict) -> str:
    """The Markdown model card of a checkpoint's JSON (after ``write_card``)."""
    m, d, t = meta["model"], meta["data"], meta.get("train") or {}
    card, metrics = meta.get("card", {}), meta.get("metrics", {})
    b = card.get("baselines", {})
    mem = card.get("memorization", {})
    kind = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}[m["kind"]]
    val = card.get("val_ppl")
    rows = [
        ("kind", f"{kind}, {m['num_layers']} layer(s) x {m['hidden_size']} units"
                 + (", bidirectional" if m.get("bidirectional") else "")),
        ("input", f"embedding {m['embed_dim']}" if m["embed_dim"] else f"one-hot ({m['vocab_size']})"),
        ("output", _output_layer(m)),
        ("dropout (embedding / between layers / output)",
         f"{m['dropout_embed']} / {m['dropout_rnn']} / {m['dropout_out']}"),
        ("parameters", f"{metrics.get('parameters', '?'):,}" if isinstance(metrics.get("parameters"), int) else "?"),
        ("weights", f"{meta['weights']['dtype']}, {meta['weights']['bytes'] / 2**20:.2f} MB"),
        ("tokenizer", f"{d['tokenizer']} (clean={d['clean']}, line break -> {d['newline']}, "
                      f"min_freq={d['min_freq']}, vocabulary {m['vocab_size']:,})"),
        ("corpus", f"{meta.get('corpus', {}).get('name', '?')} (sha256 {meta.get('corpus', {}).get('sha256', '?')[:16]}...), "
                   f"last {d['val_fraction']:.0%} of lines held out"),
        ("training", f"{t.get('optimizer', '?')} lr {t.get('lr', '?')}"
                     + (f" weight decay {t['weight_decay']}" if t.get("weight_decay") else "")
                     + f", {t.get('sampling', '?')} sampling, batch "
                     f"{t.get('batch_size', '?')} x {t.get('num_steps', '?')} steps, "
                     f"{metrics.get('steps', '?')} steps in {metrics.get('train_seconds', 0):.0f} s "
                     f"({metrics.get('tokens_per_s', 0):,.0f} tokens/s on the machine that trained it)"),
        ("validation perplexity", f"**{val:.1f}**" if isinstance(val, (int, float)) else "?"),
        ("training perplexity (eval mode, a slice as long as validation)",
         f"{card.get('train_eval_ppl', float('nan')):.1f}"),
        ("baselines on the same split (validation)",
         ", ".join(f"{k} {v:.1f}" for k, v in b.items())),
    ]
    if isinstance(val, (int, float)) and b.get("bigram"):
        rows.append(("against the bigram", f"{(val / b['bigram'] - 1) * 100:+.1f}%"))
    if mem:
        share = mem.get("ngram_share", {})
        rows.append((f"memorization ({SAMPLE_CHARS} characters sampled after {mem.get('prefix', SAMPLE_PREFIX)}, "
                     "temperature 0.8, seed 0)",
                     f"longest copy from the training text {mem.get('longest_length', '?')} chars; "
                     f"8-grams found in it {share.get('8', share.get(8, 0)) or 0:.0%}"))
    lines = [f"# {meta['name']}", "", "| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    if meta.get("command"):
        lines += ["", "Reproduce:", "", "```bash", meta["command"], "```"]
    lines.append("")
    return "\n".join(lines)
