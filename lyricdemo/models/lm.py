"""The recurrent language model: ids -> input vectors -> recurrent layers -> logits.

    ids (B, T) --one-hot | embedding--> (B, T, I) --dropout_embed--> rnn (W_hh: dropout_hh) --> (B, T, D*H)
        --dropout_out--> [proj (B, T, E)] --> decoder | adaptive softmax --> logits (B, T, V)

Two regularizers of AWD-LSTM (Merity et al. 2017), off by default: ``dropout_hh`` drops entries of the
recurrent matrices W_hh for a batch (weight drop: the same dropped matrix at every time step, where dropout
on h would cut the memory itself), and ``locked_dropout`` gives the input and output dropout one mask per
sequence across its time steps (variational dropout).

``ModelConfig`` says which model; it is a frozen, validated dataclass that goes into
every checkpoint (``to_dict``/``from_dict``).  ``RNNLM`` answers the calls every
model in lyricdemo answers, the n-gram baselines included: ``forward(ids, state) ->
(logits, state)`` and ``init_state(batch)``.

The recurrent module is either torch's fused ``nn.RNN/GRU/LSTM`` (``impl="torch"``,
fast, for training) or ``ScratchRNN`` (``impl="scratch"``, the cells written out,
gates exposed).  Both sit under the name ``rnn`` with the same parameter names, so
one state dict loads into either; ``model.with_impl("scratch")`` makes the twin.

Initialisation: torch's defaults (recurrent weights and biases uniform in
+-1/sqrt(H), ``nn.Linear`` likewise), with two choices of our own:

* one-hot input (``embed_dim=0``, d2l's model) is built in the weights' dtype, so
  ``W_ih x`` is one column of ``W_ih``: pre-activations of size ~1/sqrt(3H);
* an untied embedding keeps torch's N(0, 1), whose vectors give the first layer
  pre-activations of size ~sqrt(E/(3H)), about 0.4 for E=128, H=256: alive, not
  saturated;
* a tied embedding is also the decoder, and N(0, 1) rows would start the softmax
  far from uniform (loss several nats above log V).  It is drawn uniform in
  +-0.1 with a zero decoder bias (pytorch/examples word_language_model): as an
  input that is about as strong as d2l's one-hot, as an output the first
  prediction is close to uniform.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import LyricdemoError, Note
from ..fields import ConfigError, field, from_dict, to_dict, validate
from .scratch import CELL_KINDS, CELLS, ScratchRNN, check_hidden
from .stepper import Stepper, stepper_for

IMPLS = ("torch", "scratch")
ADAPTIVE_DIV = 4     # nn.AdaptiveLogSoftmaxWithLoss: tail cluster i is projected to F // 4**(i+1) dims
KIND_NAMES = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}

BIDIRECTIONAL_WARNING = Note(
    "This model is bidirectional: its backward direction reads the characters that come "
    "after each position, i.e. the very characters it is asked to predict. Its training "
    "perplexity falls to about 1 without learning to write, and its generations "
    "degenerate (d2l's bidirectional GRU prints 分开始开始开始...). Use it to see why "
    "a language model must only look back, not to generate.", "bidirectional")

# The torch.nn module for each kind of cell; ScratchRNN takes the kind as its mode.
TORCH_RNNS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
RNN_BUILDERS = {
    "torch": lambda kind, *args, **kw: TORCH_RNNS[kind](*args, batch_first=True, **kw),
    "scratch": lambda kind, *args, **kw: ScratchRNN(kind, *args, **kw),
}


def _whole(name: str, v, lo: int, hi: int) -> None:
    """A call argument that is no config field (``init_state``'s batch size)."""
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise LyricdemoError(f"{name} must be a whole number from {lo} to {hi:,}; got {v!r}.")


@dataclass(frozen=True)
class ModelConfig:
    """Which recurrent language model.  Stored in every checkpoint.

    The defaults are d2l's model (one-hot input, one GRU layer of 256 units).
    """

    vocab_size: int = field(help="V, from the vocabulary: a model needs two tokens to choose from / 词表大小 V",
                            lo=2, hi=10_000_000)
    kind: str = field("gru", choices=CELL_KINDS, help="The recurrent cell / 循环单元")
    impl: str = field("torch", choices=IMPLS, help="torch: fused and fast; scratch: the cells written out / "
                                                   "torch：融合实现；scratch：从零实现")
    embed_dim: int = field(0, lo=0, hi=4096, help="Embedding size; 0: one-hot input, as d2l / 嵌入维度（0 为独热输入）")
    hidden_size: int = field(256, lo=1, hi=4096, help="H: units per recurrent layer / 每层隐藏单元数")
    num_layers: int = field(1, lo=1, hi=8, help="L: stacked recurrent layers / 循环层数")
    dropout_embed: float = field(0.0, lo=0.0, hi=0.8, help="Dropout on the input vectors / 输入向量上的丢弃率")
    dropout_rnn: float = field(0.0, lo=0.0, hi=0.8, help="Dropout between recurrent layers (needs two layers) / "
                                                        "层与层之间的丢弃率（需要两层以上）")
    dropout_out: float = field(0.0, lo=0.0, hi=0.8, help="Dropout before the output layer / 输出层之前的丢弃率")
    dropout_hh: float = field(0.0, lo=0.0, hi=0.8, help=(
        "Weight drop (AWD-LSTM): entries of the recurrent matrices W_hh dropped, a fresh mask each batch / "
        "权重丢弃：每批随机丢弃循环矩阵 W_hh 的元素"))
    locked_dropout: bool = field(False, help=(
        "Variational dropout (AWD-LSTM): the input and output dropout keep one mask per sequence across its time "
        "steps / 变分丢弃：同一序列的各时间步共用一个掩码"))
    tie_weights: bool = field(False, help="Share the embedding matrix with the output layer / 输出层与嵌入共享权重")
    bidirectional: bool = field(False, help="D = 2: also reads the future, a lesson, not a generator / "
                                           "双向：会偷看答案，只用于演示")
    adaptive_cutoffs: tuple[int, ...] = field((), lo=1, hi=10_000_000, help=(
        "Adaptive softmax cutoffs (token ranks); none: the full softmax / 自适应 softmax 的分段（词元排名）；为空即完整 softmax"))

    def __post_init__(self):
        validate(self)
        cutoffs = self.adaptive_cutoffs
        if self.tie_weights and self.embed_dim == 0:
            raise ConfigError("tie_weights shares the embedding matrix with the decoder, so it needs an "
                              "embedding (embed_dim > 0); one-hot input has no matrix to share.", "tie_weights")
        if cutoffs:
            if max(cutoffs) >= self.vocab_size:
                raise ConfigError(f"Each adaptive cutoff must be below the vocabulary size {self.vocab_size:,}; "
                                  f"got {list(cutoffs)}.", "adaptive_cutoffs")
            if list(cutoffs) != sorted(set(cutoffs)):
                raise ConfigError(f"adaptive_cutoffs must be strictly increasing; got {list(cutoffs)}.",
                                  "adaptive_cutoffs")
            width = self.rnn_output_size
            if width // ADAPTIVE_DIV ** len(cutoffs) < 1:
                raise ConfigError(
                    f"With {len(cutoffs)} adaptive cutoffs the last tail cluster is projected to "
                    f"{width} // {ADAPTIVE_DIV}**{len(cutoffs)} = 0 dimensions and could never learn; "
                    f"use fewer cutoffs or a larger hidden size.", "adaptive_cutoffs")
            if self.tie_weights:
                raise ConfigError("tie_weights and adaptive_cutoffs do not go together: the adaptive "
                                  "softmax has its own head and tail matrices, not one decoder to tie.",
                                  "adaptive_cutoffs")

    # -- derived sizes -----------------------------------------------------------------------
    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def input_size(self) -> int:
        """Width of the vectors the recurrent layers read: V for one-hot, else embed_dim."""
        return self.embed_dim or self.vocab_size

    @property
    def rnn_output_size(self) -> int:
        return self.hidden_size * self.num_directions

    @property
    def uses_proj(self) -> bool:
        """Tying needs the decoder input to be embed_dim wide; a projection bridges D*H to E."""
        return self.tie_weights and self.embed_dim != self.rnn_output_size

    @property
    def decoder_input_size(self) -> int:
        return self.embed_dim if self.tie_weights else self.rnn_output_size

    def warnings(self) -> list[str]:
        """What a trainer should tell the user about this configuration before it starts (plain English
        ``Note``s; ui/wording.py words them for the app)."""
        notes = []
        if self.bidirectional:
            notes.append(BIDIRECTIONAL_WARNING)
        if self.dropout_rnn and self.num_layers == 1:
            notes.append(Note("dropout_rnn acts between recurrent layers; with one layer it does nothing.",
                              "dropout_rnn_one_layer"))
        return notes

    # -- JSON --------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return from_dict(cls, d)


def _count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 1_000:
        return f"{n / 1e3:.1f}K"
    return str(n)


class Dropout(nn.Module):
    """Inverted dropout, as ``nn.Dropout``: in training each element is zeroed with probability
    ``p`` and the rest scaled by 1 / (1 - p); in eval mode it is the identity.  The mask comes
    from ``torch.rand`` (vectorised) rather than ``bernoulli_``, which on CPU took 12% of a
    training step of the default recipe (``bench/RESULTS.md``).  No parameters: checkpoints
    are the same either way."""

    def __init__(self, p: float = 0.0, locked: bool = False):
        super().__init__()
        self.p, self.locked = float(p), bool(locked)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.locked and x.dim() == 3:        # variational: one mask per sequence, the same at every time step
            noise = torch.rand((x.shape[0], 1, x.shape[2]), dtype=x.dtype, device=x.device)
        else:
            noise = torch.rand_like(x)
        return x * noise.ge_(self.p).mul_(1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}" + (", locked" if self.locked else "")


class RNNLM(nn.Module):
    """Recurrent language model over token ids; see the module docstring for the layout.

    Submodules: ``embedding`` (None for one-hot input), ``drop_embed``, ``rnn``,
    ``drop_out``, ``proj`` (None unless tying needs it), and either ``decoder``
    (``nn.Linear``) or ``adaptive`` (``nn.AdaptiveLogSoftmaxWithLoss``); the other is None.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        if not isinstance(config, ModelConfig):
            raise LyricdemoError(f"RNNLM needs a ModelConfig; got {type(config).__name__}.")
        self.config = c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed_dim) if c.embed_dim else None
        self.drop_embed = Dropout(c.dropout_embed, c.locked_dropout)
        self.rnn = RNN_BUILDERS[c.impl](c.kind, c.input_size, c.hidden_size, c.num_layers,
                                        # with one layer torch warns that dropout does nothing
                                        dropout=c.dropout_rnn if c.num_layers > 1 else 0.0,
                                        bidirectional=c.bidirectional)
        self.drop_out = Dropout(c.dropout_out, c.locked_dropout)
        self.proj = nn.Linear(c.rnn_output_size, c.embed_dim) if c.uses_proj else None
        if c.adaptive_cutoffs:
            self.decoder = None
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(c.rnn_output_size, c.vocab_size,
                                                          list(c.adaptive_cutoffs), div_value=ADAPTIVE_DIV)
        else:
            self.decoder = nn.Linear(c.decoder_input_size, c.vocab_size)
            self.adaptive = None
        if c.tie_weights:
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)
            self.decoder.weight = self.embedding.weight          # (V, E), one Parameter

    # -- facts -------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.rnn.weight_hh_l0.device

    @property
    def dtype(self) -> torch.dtype:
        return self.rnn.weight_hh_l0.dtype

    @property
    def bidirectional(self) -> bool:
        """True when the model reads the future (see BIDIRECTIONAL_WARNING)."""
        return self.config.bidirectional

    def num_parameters(self) -> int:
        """Trainable numbers; a tied matrix counts once."""
        return sum(p.numel() for p in self.parameters())

    def describe(self) -> str:
        """One line, e.g. ``GRU 2x256, embedding 128, tied, 1.1M params``."""
        c = self.config
        parts = [f"{KIND_NAMES[c.kind]} {c.num_layers}x{c.hidden_size}" + (" bidirectional" if c.bidirectional else ""),
                 f"embedding {c.embed_dim}" if c.embed_dim else f"one-hot {c.vocab_size}"]
        if c.tie_weights:
            parts.append("tied")
        if c.adaptive_cutoffs:
            parts.append("adaptive softmax " + "/".join(map(str, c.adaptive_cutoffs)))
        if c.dropout_hh:
            parts.append(f"weight drop {c.dropout_hh:g}")
        if c.locked_dropout:
            parts.append("locked dropout")
        if c.impl == "scratch":
            parts.append("scratch cells")
        parts.append(f"{_count(self.num_parameters())} params")
        return ", ".join(parts)

    # -- state -------------------------------------------------------------------------------
    def init_state(self, batch_size: int = 1, device: torch.device | str | None = None):
        """Zeros: ``(L*D, B, H)``, or a tuple ``(h, c)`` of two such for an LSTM."""
        _whole("batch_size", batch_size, 1, 1_000_000)
        c = self.config
        shape = (c.num_layers * c.num_directions, batch_size, c.hidden_size)
        device = self.device if device is None else device
        parts = tuple(torch.zeros(shape, dtype=self.dtype, device=device) for _ in CELLS[c.kind].states)
        return parts[0] if len(parts) == 1 else parts

    # -- the forward pass, in public steps --------------------------------------------------
    #   ids --check_ids--> (B, T) --embed--> x (B, T, I) --run_layers--> features (B, T, F)
    #       --logits_of--> (B, T, V)      (log_probs_of: the same, normalised)
    # ``forward``, ``loss``, the probe (which takes gradients with respect to x), the song memory
    # and the Stepper's warm-up all go through these; nothing outside reaches further in.
    def check_ids(self, ids, name: str = "ids") -> torch.Tensor:
        """Token ids as a (B, T) long tensor on the model's device ((T,) becomes (1, T)); refuses
        empty, non-integer or out-of-vocabulary ids with a message naming ``name``."""
        ids = torch.as_tensor(ids, device=self.device)
        if ids.dim() == 1:
            ids = ids.unsqueeze(0)                                 # (T,) -> (1, T)
        if ids.dim() != 2 or ids.shape[1] == 0 or ids.shape[0] == 0:
            raise LyricdemoError(f"{name} must be token ids of shape (batch, time) with at least one token; "
                                 f"got shape {tuple(ids.shape)}.")
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            raise LyricdemoError(f"{name} must be whole-number token ids; got dtype {ids.dtype}.")
        lo, hi = torch.aminmax(ids)
        if lo < 0 or hi >= self.config.vocab_size:
            raise LyricdemoError(f"A token id in {name} is outside the vocabulary 0..{self.config.vocab_size - 1} "
                                 f"(found {int(lo)}..{int(hi)}).")
        return ids.long()

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Checked ids (B, T) -> the input vectors x (B, T, I): one-hot columns (I = V) or embedding
        rows (I = embed_dim).  No dropout here (``run_layers`` applies it)."""
        if self.embedding is None:
            return F.one_hot(ids, self.config.vocab_size).to(self.dtype)   # (B, T, V)
        return self.embedding(ids)                                 # (B, T, E)

    def run_layers(self, x: torch.Tensor, state=None, with_gates: bool = False):
        """Input vectors x (B, T, I) -> (features (B, T, F) for the output layer, state, gates or None).

        Dropout on x, the recurrent layers, dropout on their output, the projection (if tying needs
        one).  ``with_gates`` (scratch cells only) also returns ``gates[name]`` (L, D, B, T, H)."""
        c = self.config
        if state is not None:
            check_hidden(c.kind, state, (c.num_layers * c.num_directions, x.shape[0], c.hidden_size))
        x = self.drop_embed(x)
        gates = None
        if with_gates:
            if c.impl != "scratch":
                raise LyricdemoError("The fused torch.nn recurrent layers do not expose their gates; "
                                     "use model.with_impl('scratch') for a twin with the same weights.")
            y, state, gates = self.rnn.forward_with_gates(x, state)
        elif self.training and c.dropout_hh:
            y, state = torch.func.functional_call(self.rnn, self._weight_dropped(), (x, state))
        else:
            y, state = self.rnn(x, state)                          # (B, T, D*H)
        y = self.drop_out(y)
        if self.proj is not None:
            y = self.proj(y)                                       # (B, T, E)
        return y, state, gates

    def _weight_dropped(self) -> dict[str, torch.Tensor]:
        """The recurrent layers' parameters with the entries of each W_hh dropped (DropConnect, the rest scaled by
        1 / (1 - p)): the layers run on these for one batch; the gradient reaches the weights through the mask."""
        p = self.config.dropout_hh
        return {k: F.dropout(v, p) if k.startswith("weight_hh") else v for k, v in self.rnn.named_parameters()}

    def logits_of(self, features: torch.Tensor) -> torch.Tensor:
        """features (..., F) -> logits (..., V); the adaptive softmax gives full log-probabilities."""
        if self.adaptive is not None:
            lead = features.shape[:-1]
            return self.adaptive.log_prob(features.reshape(-1, features.shape[-1])).view(*lead, -1)
        return self.decoder(features)

    def log_probs_of(self, features: torch.Tensor) -> torch.Tensor:
        """features (..., F) from ``features``/``run_layers`` -> log-probabilities (..., V) of the next token."""
        return torch.log_softmax(self.logits_of(features), dim=-1)

    def features(self, ids: torch.Tensor, state=None):
        """ids (B, T) -> (features (B, T, F), state): the vectors the output layer reads, one per
        position (after the last recurrent layer and the projection, if any).  ``log_probs_of``
        turns them into the next-token distribution.  The song memory (``lyricdemo/memory.py``)
        compares these vectors to find the earlier positions that resemble the current one."""
        y, state, _ = self.run_layers(self.embed(self.check_ids(ids)), state)
        return y, state

    def forward(self, ids: torch.Tensor, state=None):
        """ids (B, T) long, state None | from ``init_state`` or a previous call
        -> (logits (B, T, V), state).  With ``adaptive_cutoffs`` the logits are
        log-probabilities (which softmax leaves unchanged)."""
        y, state = self.features(ids, state)
        return self.logits_of(y), state

    def loss(self, ids: torch.Tensor, targets: torch.Tensor, state=None):
        """Mean cross-entropy (nats per token) of predicting ``targets`` (B, T) after
        reading ``ids`` (B, T) -> (scalar loss, state).  The adaptive softmax computes
        it without the full (B*T, V) distribution, which is where it saves time."""
        ids = self.check_ids(ids)
        targets = self.check_ids(targets, "targets")
        if targets.shape != ids.shape:
            raise LyricdemoError(f"targets {tuple(targets.shape)} must have the shape of ids {tuple(ids.shape)}.")
        y, state, _ = self.run_layers(self.embed(ids), state)
        flat_y, flat_t = y.reshape(-1, y.shape[-1]), targets.reshape(-1)          # (B*T, F), (B*T,)
        if self.adaptive is not None:
            return self.adaptive(flat_y, flat_t).loss, state
        return F.cross_entropy(self.decoder(flat_y), flat_t), state

    def forward_with_gates(self, ids: torch.Tensor, state=None):
        """(logits (B, T, V), state, gates): ``gates[name]`` is (L, D, B, T, H), as in
        ``ScratchRNN.forward_with_gates``.  Only the scratch cells expose gates."""
        y, state, gates = self.run_layers(self.embed(self.check_ids(ids)), state, with_gates=True)
        return self.logits_of(y), state, gates

    def stepper(self) -> Stepper:
        """The fast one-token path for decoding: ``stepper().step(ids (B,), state) ->
        (logits (B, V), state)``, equal to ``self(ids[:, None], state)`` in eval mode.

        Cached on the model and rebuilt when a weight changed (an optimizer step, a
        ``load_state_dict``), because the stepper copies the weights when it is built;
        see ``models/stepper.py``."""
        return stepper_for(self)

    # -- twins -------------------------------------------------------------------------------
    def with_impl(self, impl: str) -> RNNLM:
        """A new model with the given implementation (``"torch"`` or ``"scratch"``) and
        this one's weights, device, dtype and train/eval mode.  The global random
        generator is left as it was (building the twin draws initial weights)."""
        config = replace(self.config, impl=impl)
        with torch.random.fork_rng(devices=[]):
            twin = RNNLM(config)
        twin.to(device=self.device, dtype=self.dtype)
        twin.load_state_dict(self.state_dict())
        twin.train(self.training)
        return twin


def build_model(config: ModelConfig | dict) -> RNNLM:
    """The model a config (or its ``to_dict()``) describes, freshly initialised."""
    if isinstance(config, dict):
        config = ModelConfig.from_dict(config)
    return RNNLM(config)

