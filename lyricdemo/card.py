"""Model cards: what a shipped checkpoint is, how good it is, how to make it again.

``write_card(path, dataset)`` reloads a saved checkpoint *from disk* (so every figure
is measured on the weights that ship, float16 rounding included), recomputes its
training and validation perplexity, bits per character (comparable between char and
word models), the n-gram baselines on the same split, the validation perplexity with
song memory beside the n-grams given the same memory (``memory.py``: tuned on the last
stretch of the training text, as long as the validation text), and the memorization
meter on a 500-character sample; it stores these under ``"card"`` in the checkpoint's
JSON and writes the Markdown card ``README.md`` beside it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .bits import LN2
from .bits import measure as measure_bits
from .checkpoint import CARD, META, load_checkpoint
from .corpus import atomic_write_bytes
from .data import Dataset
from .errors import LyricdemoError
from .generate import DecodeConfig, generate
from .mixture import MIX_ORDER
from .ngram import NGramLM, fit_baselines, standing_text
from .novelty import CorpusIndex
from .numbers import json_safe, perplexity_of
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
    bits: dict | None = None          # bits.BitsPerChar.to_dict() on the validation text, per model
    memory: dict | None = None        # song_memory(): with memory, for the model and the n-grams
    mixture: dict | None = None       # ngram_mixture(): the model mixed with the trigram, equal weights

    def to_dict(self) -> dict:
        return dict(self.__dict__)


DYNAMIC = "model_dynamic"               # song_memory's key of the model's figures with dynamic evaluation too


def song_memory(model, dataset: Dataset, orders=(2, 3), stored_model: dict | None = None,
                grams: dict[int, NGramLM] | None = None, stored_dynamic: dict | None = None) -> dict:
    """Validation perplexity with song memory, for the model and for the n-grams given the same
    memory, each tuned on the last stretch of the training text (``memory.choose_memory``).  The
    model's figures twice: with the caches (``"model"``: what the app's shared model uses) and with
    dynamic evaluation too (``DYNAMIC``: the CLI's; the rate chosen on the same slice, none if none helps
    there).  The n-grams' memory is the copy cache (counting the text read so far is what its short
    matches do).

    ``stored_model`` / ``stored_dynamic``: the model's figures from an earlier card on the same weights
    and split, kept as they are (tuning the model's memory, continuous cache included, takes longest).
    ``grams``: the n-gram models of the training ids by order, when the caller has fitted them already."""
    from .memory_tuning import choose_dynamic, choose_memory, tuning_slice

    tune = tuning_slice(dataset.train_ids, len(dataset.val_ids))
    out = {"tuning_tokens": len(tune)}
    contenders = {}
    if stored_model is not None:
        out["model"] = stored_model
        if stored_dynamic is not None:
            out[DYNAMIC] = stored_dynamic
    else:
        contenders["model"] = model
    grams = grams or fit_baselines(dataset.train_ids, len(dataset.vocab), orders)
    contenders.update({grams[n].name: grams[n] for n in orders})
    for name, m in contenders.items():
        choice = choose_memory(m, tune)
        out[name] = _with_memory(m, dataset, choice)
        if name == "model" and hasattr(m, "features"):
            dyn = choose_dynamic(m, tune, choice)
            out[DYNAMIC] = out[name] if dyn is choice else _with_memory(m, dataset, dyn)
    return out


def _with_memory(model, dataset: Dataset, choice) -> dict:
    """The card's figures of ``model`` with the memory ``choice`` (a ``memory_tuning.Choice``)."""
    from .memory_tuning import memory_log_probs

    plain, mixed = memory_log_probs(model, dataset.val_ids, choice.config)
    return {"val_ppl": perplexity_of(float(-plain.mean())), "val_ppl_memory": perplexity_of(float(-mixed.mean())),
            "tuning_ppl": choice.plain_ppl, "tuning_ppl_memory": choice.tuning_ppl,
            "config": choice.config.to_dict()}


def ngram_mixture(model, dataset: Dataset, memory: bool = True, ngram: NGramLM | None = None) -> dict:
    """Validation figures of the model mixed with the trigram of its training text (``mixture.py``:
    fixed equal weights, nothing tuned); with ``memory``, also with song memory over the mixture (the
    copy cache: a mixture has no features for the continuous one), tuned as ``song_memory`` tunes.
    ``ngram``: that trigram, when the caller has fitted it already."""
    from .memory_tuning import choose_memory, memory_log_probs, tuning_slice
    from .mixture import MIX_ORDER, MIX_WEIGHT, NGramMix, mixed_with_ngram

    mix = (mixed_with_ngram(model, dataset.train_ids, len(dataset.vocab)) if ngram is None
           else NGramMix(model, ngram, MIX_WEIGHT))
    b = measure_bits(mix, dataset)
    out = {"order": MIX_ORDER, "weight": MIX_WEIGHT, "val_ppl": perplexity_of(b.bits_per_token * LN2),
           "bits_per_char": b.bits_per_char}
    if memory:
        choice = choose_memory(mix, tuning_slice(dataset.train_ids, len(dataset.val_ids)))
        _, mixed = memory_log_probs(mix, dataset.val_ids, choice.config)
        out.update(val_ppl_memory=perplexity_of(float(-mixed.mean())), memory_config=choice.config.to_dict())
    return out


def measure(path: str | os.PathLike, dataset: Dataset, memory: bool = True,
            baselines_only: bool = False) -> CardFigures:
    """Every number on the card, measured on the checkpoint as stored.

    ``baselines_only``: keep the model's song-memory figures from the card already stored (same
    weights, same split) and measure everything else again, the n-grams with memory included."""
    ck = load_checkpoint(path)
    stored_model = stored_dynamic = None
    if baselines_only and memory and not ck.model.bidirectional:
        stored = (ck.meta.get("card") or {}).get("memory") or {}
        stored_model, stored_dynamic = stored.get("model"), stored.get(DYNAMIC)
        if stored_model is None:
            raise LyricdemoError(f"{ck.name} has no song-memory figures on its card to keep: "
                                 "measure it without the baselines-only option.")
    val = perplexity(ck.model, dataset.val_ids)
    n = max(len(dataset.val_ids), 512)
    train_eval = perplexity(ck.model, dataset.train_ids[:n])
    grams = fit_baselines(dataset.train_ids, len(dataset.vocab))         # fitted once, for every figure below
    baselines = {m.name: m.perplexity(dataset.val_ids) for m in grams.values()}
    bits = {"model": measure_bits(ck.model, dataset).to_dict()}
    bits.update({m.name: measure_bits(m, dataset).to_dict() for m in grams.values()})
    prefix = sample_prefix(ck.train_config)
    text = generate(ck.model, ck.vocab, ck.tokenizer, prefix,
                    DecodeConfig(length=SAMPLE_CHARS, **SAMPLE_DECODE)).continuation[:SAMPLE_CHARS]
    report = CorpusIndex(dataset.train_text).check(text)
    # Only figures are kept: a sample may hold copied lyrics, and corpus text is never committed.
    mem = {"prefix": prefix, "text_length": report.text_length, "longest_length": report.longest_length,
           "ngram_share": report.ngram_share, "copied_share": report.copied_share, "summary": report.summary()}
    memory_figures = (song_memory(ck.model, dataset, stored_model=stored_model, grams=grams,
                                  stored_dynamic=stored_dynamic)
                      if memory and not ck.model.bidirectional else None)
    mixture = None if ck.model.bidirectional else ngram_mixture(ck.model, dataset, memory=memory,
                                                                 ngram=grams[MIX_ORDER])
    return CardFigures(val_ppl=val, train_eval_ppl=train_eval, baselines=baselines, memorization=mem, bits=bits,
                       memory=memory_figures, mixture=mixture)


def sample_prefix(train_config) -> str:
    """The memorization sample starts where training's samples did (the first ``--prefix``): a corpus
    of Tang poems is sampled after 床前, the lyrics after 分开."""
    prefixes = train_config.sample_prefixes if train_config is not None else ()
    return prefixes[0] if prefixes and prefixes[0] else SAMPLE_PREFIX


def write_card(path: str | os.PathLike, dataset: Dataset, command: str | None = None,
               memory: bool = True, baselines_only: bool = False) -> CardFigures:
    """Measure, store the figures in the checkpoint JSON, write README.md (atomically)."""
    path = Path(path)
    fig = measure(path, dataset, memory=memory, baselines_only=baselines_only)
    meta = json.loads((path / META).read_text(encoding="utf-8"))
    meta["card"] = json_safe(fig.to_dict())
    if command:
        meta["command"] = command
    atomic_write_bytes(path / META, json.dumps(json_safe(meta), ensure_ascii=False, indent=1, allow_nan=False).encode())
    atomic_write_bytes(path / CARD, render(meta).encode())
    return fig


def _output_layer(m: dict) -> str:
    """What the model's last layer is, as the config says (adaptive softmax, tied or a plain linear)."""
    cutoffs = m.get("adaptive_cutoffs") or ()
    if cutoffs:
        return (f"adaptive softmax (clusters at {' / '.join(map(str, cutoffs))} of {m['vocab_size']:,} tokens: "
                "frequent tokens in the head, rare ones in smaller tails)")
    if m.get("tie_weights"):
        return "tied to the embedding" + (" (through a projection)" if m["embed_dim"] != m["hidden_size"] else "")
    return "linear over the vocabulary"


def _dropout(m: dict) -> str:
    """The dropout rates, and AWD-LSTM's weight drop and locked dropout where the model used them."""
    return (f"{m['dropout_embed']} / {m['dropout_rnn']} / {m['dropout_out']}"
            + (f"; weight drop {m['dropout_hh']} on W_hh" if m.get("dropout_hh") else "")
            + ("; locked (one mask per sequence)" if m.get("locked_dropout") else ""))


def _memorization_row(mem: dict) -> tuple[str, str]:
    share = mem.get("ngram_share", {})
    return (f"memorization ({SAMPLE_CHARS} characters sampled after {mem.get('prefix', SAMPLE_PREFIX)}, "
            "temperature 0.8, seed 0)",
            f"longest copy from the training text {mem.get('longest_length', '?')} chars; "
            f"8-grams found in it {share.get('8', share.get(8, 0)) or 0:.0%}")


def render(meta: dict) -> str:
    """The Markdown model card of a checkpoint's JSON (after ``write_card``)."""
    m, d, t = meta["model"], meta["data"], meta.get("train") or {}
    card, metrics = meta.get("card", {}), meta.get("metrics", {})
    b = card.get("baselines", {})
    mem = card.get("memorization", {})
    kind = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}[m["kind"]]
    val = card.get("val_ppl")
    spells = d["tokenizer"] != "char" and d.get("unknown_words") == "chars"      # a rare word spelled (vocab.py)
    rows = [
        ("kind", f"{kind}, {m['num_layers']} layer(s) x {m['hidden_size']} units"
                 + (", bidirectional" if m.get("bidirectional") else "")),
        ("input", f"embedding {m['embed_dim']}" if m["embed_dim"] else f"one-hot ({m['vocab_size']})"),
        ("output", _output_layer(m)),
        ("dropout (embedding / between layers / output)", _dropout(m)),
        ("parameters", f"{metrics.get('parameters', '?'):,}" if isinstance(metrics.get("parameters"), int) else "?"),
        ("weights", f"{meta['weights']['dtype']}, {meta['weights']['bytes'] / 2**20:.2f} MB"),
        ("tokenizer", f"{d['tokenizer']} (clean={d['clean']}, line break -> {d['newline']}, "
                      f"min_freq={d['min_freq']}, vocabulary {m['vocab_size']:,}"
                      + ("" if d["tokenizer"] == "char" else
                         "; a rarer word is spelled as its characters" if spells else "; a rarer word is <unk>")
                      + ")"),
        ("corpus", f"{meta.get('corpus', {}).get('name', '?')} (sha256 {meta.get('corpus', {}).get('sha256', '?')[:16]}...), "
                   f"last {d['val_fraction']:.0%} of lines held out"),
        ("training", f"{t.get('optimizer', '?')} lr {t.get('lr', '?')}"
                     + (f" weight decay {t['weight_decay']}" if t.get("weight_decay") else "")
                     + (f", soft targets {t['soft_targets']} (that share of each target is the cross-fitted bigram's "
                        "distribution)" if t.get("soft_targets") else "")
                     + f", {t.get('sampling', '?')} sampling, batch "
                     f"{t.get('batch_size', '?')} x {t.get('num_steps', '?')} steps, "
                     f"{metrics.get('steps', '?')} steps in {metrics.get('train_seconds', 0):.0f} s "
                     f"({metrics.get('tokens_per_s', 0):,.0f} tokens/s on the machine that trained it)"),
        ("validation perplexity", f"**{val:.1f}**" if isinstance(val, (int, float)) else "?"),
        ("training perplexity (eval mode, a slice as long as validation)",
         f"{card.get('train_eval_ppl', float('nan')):.1f}"),
        ("baselines on the same split (validation; interpolated modified Kneser-Ney)",
         ", ".join(f"{k} {v:.1f}" for k, v in b.items())),
    ]
    if isinstance(val, (int, float)) and b.get("bigram"):
        rows.append(("against the bigram (modified Kneser-Ney) / 对比二元模型",
                     f"{(val / b['bigram'] - 1) * 100:+.1f}%: {standing_text(val, b['bigram'])}"))
    rows += _bits_rows(card.get("bits"), "token" if spells else d["tokenizer"])
    rows += _mixture_rows(card.get("mixture"), b, val if isinstance(val, (int, float)) else None)
    rows += _memory_rows(card.get("memory"))
    if mem:
        rows.append(_memorization_row(mem))
    lines = [f"# {meta['name']}", "", "| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    if card.get("memory"):
        lines += ["", "Song memory: a copy cache (the longest earlier match of the text just read votes for what "
                  "followed it), a continuous cache over the model's own features (Grave et al. 2017) and dynamic "
                  "evaluation (Krause et al. 2018), tuned on the last stretch of the training text and never on "
                  "the validation text; the n-gram models get the copy cache, tuned the same way "
                  "(`lyricdemo/memory.py`, `python -m lyricdemo evaluate --memory`)."]
    if meta.get("command"):
        lines += ["", "Reproduce:", "", "```bash", meta["command"], "```"]
    lines.append("")
    return "\n".join(lines)


def _bits_rows(bits: dict | None, tokenizer: str) -> list[tuple[str, str]]:
    if not bits or "model" not in bits:
        return []
    mine = bits["model"]
    unit = {"char": "character", "token": "token (a word, or a character of a spelled word)"}.get(tokenizer, "word")
    others = ", ".join(f"{k} {v['bits_per_char']:.2f}" for k, v in bits.items() if k != "model")
    return [("validation bits per character (one unit for char and word models)",
             f"**{mine['bits_per_char']:.3f}** ({mine['bits_per_token']:.2f} bits per {unit}); n-grams: {others}. "
             f"<unk> stands for {mine['unk_char_share']:.1%} of the characters, and predicting <unk> is not "
             "charged for which characters it was: the more <unk>, the more flattering the figure")]


def _mixture_rows(mix: dict | None, baselines: dict, alone: float | None) -> list[tuple[str, str]]:
    if not mix:
        return []
    gram = {2: "bigram", 3: "trigram"}.get(mix["order"], f"{mix['order']}-gram")
    row = (f"**{mix['val_ppl']:.1f}** ({mix['bits_per_char']:.3f} bits per character; weights "
           f"{mix['weight']:g} / {1 - mix['weight']:g}, fixed, not tuned)")
    if baselines.get("bigram"):
        row += f"; {standing_text(mix['val_ppl'], baselines['bigram'])}"
    if isinstance(alone, (int, float)):
        row += ("; better than the model alone / 优于模型单独" if mix["val_ppl"] < alone else
                "; no better than the model alone / 不优于模型单独")
    if mix.get("val_ppl_memory"):
        row += f"; with song memory (copy cache) **{mix['val_ppl_memory']:.1f}**"
    return [(f"mixed with the {gram} / 与{'二元' if mix['order'] == 2 else '三元'}模型混合 (`lyricdemo/mixture.py`)", row)]


def _memory_rows(memory: dict | None) -> list[tuple[str, str]]:
    if not memory or "model" not in memory:
        return []
    mine = memory["model"]
    rows = [("validation perplexity with song memory (the app's)", f"**{mine['val_ppl_memory']:.1f}** (without: "
             f"{mine['val_ppl']:.1f}; {_memory_settings(mine['config'])}; tuned on the last "
             f"{memory['tuning_tokens']:,} training tokens)")]
    dyn = memory.get(DYNAMIC)
    if dyn:
        lr = dyn["config"].get("dynamic_lr")
        rows.append(("with dynamic evaluation too (the CLI's: the weights learn from the text just read) / 再加动态评估",
                     f"**{dyn['val_ppl_memory']:.1f}** ({_memory_settings(dyn['config'])})" if lr else
                     "no rate helped on the tuning slice: as above / 调参切片上无益，同上"))
    grams = {k: v for k, v in memory.items() if k not in ("model", DYNAMIC, "tuning_tokens")}
    if grams:
        rows.append(("n-grams with the same memory (copy cache)",
                     ", ".join(f"{k} {v['val_ppl_memory']:.1f}" for k, v in grams.items())))
    if "bigram" in grams:
        best = dyn if dyn and dyn["config"].get("dynamic_lr") else mine    # as chosen on the slice, not on validation
        rows.append(("with memory, against the bigram with memory / 带记忆对比带记忆的二元模型",
                     standing_text(best["val_ppl_memory"], grams["bigram"]["val_ppl_memory"],
                                   "the bigram with memory", "带记忆的二元模型")))
    return rows


def _memory_settings(cfg: dict) -> str:
    parts = [f"window {cfg['window']}", f"copy beta {cfg['beta']:g}"]
    if cfg.get("continuous"):
        parts.append(f"continuous theta {cfg['theta']:g}")
    if cfg.get("dynamic_lr"):
        parts.append(f"dynamic evaluation lr {cfg['dynamic_lr']:g}")
    return ", ".join(parts)
