"""Start from another model's weights: pretrain on a large text, then fine-tune on a small one.

A model that has read a few million characters of modern Chinese knows how characters follow one another;
the 56k training characters of the lyrics can start from that knowledge instead of from random weights
(``python -m lyricdemo train --init-from CHECKPOINT``; ``bench/bench_transfer.py`` measures it).

The two vocabularies differ, so the weights indexed by token move by token: a token both models know keeps
what the source learned about it (its embedding row, its output row and bias); a token only the target knows
starts from the source's ``<unk>`` rows -- what the source learned about "a character it had not seen".
Every other weight (the recurrent layers) is copied as it is, so the architectures must agree.  An adaptive
softmax groups its output rows by frequency rank, which differs between corpora, so between two vocabularies it
does not move: the new model's output layer starts from random weights (an adaptive softmax with the source's
cutoffs where they fit the new vocabulary, else the full softmax) and everything below it is copied.  With the
same vocabulary on both sides every weight is copied, an adaptive softmax included.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .errors import LyricdemoError

# The ModelConfig fields that shape the weights: a fine-tuned model takes them from its source.
ARCHITECTURE = ("kind", "embed_dim", "hidden_size", "num_layers", "tie_weights", "bidirectional", "adaptive_cutoffs")


@dataclass(frozen=True)
class Transfer:
    """What ``transfer`` copied: tokens of the target's vocabulary the source knew, of how many."""

    shared: int
    vocab: int
    tensors: int
    fresh_output: bool = False      # the source's adaptive softmax could not move: the output layer starts afresh

    def line(self) -> str:
        out = (f"{self.shared:,} of {self.vocab:,} tokens keep the source's rows, {self.vocab - self.shared:,} "
               f"start from its <unk>; {self.tensors} weight tensors copied / 共有词元沿用原模型的行，"
               f"新词元从其 <unk> 开始")
        if self.fresh_output:
            out += ("; the output layer starts from random weights: the source's adaptive softmax groups its rows by "
                    "frequency rank, which differs between the two corpora / 输出层从随机权重开始：原模型的自适应 "
                    "softmax 按词频排名分组，两份语料的排名不同")
        return out


def _fresh_output(source_config, same_vocab: bool) -> bool:
    """Between two vocabularies an adaptive softmax does not move (its rows are grouped by frequency rank)."""
    return not same_vocab and bool(source_config.adaptive_cutoffs)


def check_architecture(source_config, target_config, same_vocab: bool = False) -> None:
    """Raise a clear error when the two configs disagree on a field that shapes the weights (the output layer
    excepted where it starts afresh)."""
    skip = ("adaptive_cutoffs",) if _fresh_output(source_config, same_vocab) else ()
    differ = [f"{f} {getattr(source_config, f)!r} against {getattr(target_config, f)!r}" for f in ARCHITECTURE
              if f not in skip and getattr(source_config, f) != getattr(target_config, f)]
    if differ:
        raise LyricdemoError("The source model's architecture differs: " + "; ".join(differ) +
                             ". / 原模型结构不同，无法迁移。")


def _same_vocab(a, b) -> bool:
    return list(a.idx_to_token) == list(b.idx_to_token)


def starting_config(source: torch.nn.Module, source_vocab, config, vocab):
    """``config`` (a ModelConfig over ``vocab``) with ``source``'s architecture, checked for ``transfer``: the
    config a model must have to start from ``source``'s weights."""
    fields = {f: getattr(source.config, f) for f in ARCHITECTURE}
    same = _same_vocab(source_vocab, vocab)
    if _fresh_output(source.config, same) and max(fields["adaptive_cutoffs"]) >= len(vocab):
        fields["adaptive_cutoffs"] = ()    # the cutoffs do not fit a smaller vocabulary: a full softmax, afresh
    new = replace(config, **fields)
    check_architecture(source.config, new, same)
    return new


def _token_dim(name: str, config) -> int | None:
    """The dimension of weight ``name`` that is indexed by token, or None for a weight that is not."""
    if name in ("embedding.weight", "decoder.weight", "decoder.bias"):
        return 0
    if config.embed_dim == 0 and name.startswith("rnn.weight_ih_l0"):    # one-hot input: a column per token
        return 1
    return None


def transfer(source: torch.nn.Module, source_vocab, target: torch.nn.Module, target_vocab) -> Transfer:
    """Copy ``source``'s weights into ``target`` (modified in place), rows indexed by token moved by token (the
    same vocabulary on both sides: every weight copied as it is, an adaptive softmax included)."""
    same = _same_vocab(source_vocab, target_vocab)
    check_architecture(source.config, target.config, same)
    fresh = _fresh_output(source.config, same)
    known = source_vocab.token_to_idx
    rows = torch.tensor([known.get(tok, source_vocab.unk) for tok in target_vocab.idx_to_token], dtype=torch.long)
    ours, theirs = target.state_dict(), source.state_dict()
    new = {}
    for name, mine in ours.items():
        if fresh and name.startswith(("adaptive.", "decoder.")):     # the output layer keeps its random start
            continue
        if name not in theirs:
            raise LyricdemoError(f"The source model has no weight {name!r}. / 原模型缺少权重 {name}。")
        dim = None if same else _token_dim(name, target.config)
        w = theirs[name].index_select(dim, rows) if dim is not None else theirs[name]
        if w.shape != mine.shape:
            raise LyricdemoError(f"Weight {name!r}: the source's shape {tuple(w.shape)} does not fit "
                                 f"{tuple(mine.shape)}. / 权重形状不符。")
        new[name] = w.to(mine.dtype)
    target.load_state_dict(new, strict=not fresh)
    shared = sum(tok in known for tok in target_vocab.idx_to_token)
    return Transfer(shared=shared, vocab=len(target_vocab), tensors=len(new), fresh_output=fresh)
