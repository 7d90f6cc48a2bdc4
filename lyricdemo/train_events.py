"""The records ``Trainer.run`` yields, one class per kind, used alike by the CLI, the app and the
tests: ``Started``, ``Baselines``, ``Progress``, ``Evaluation``, ``Sample``, ``TrainWarning``,
``Done``, ``Failed``.  Each is a dataclass whose ``kind`` names it for JSON and the UI."""

from __future__ import annotations

from dataclasses import dataclass, fields
from dataclasses import field as dc_field

from .errors import Note


@dataclass
class Event:
    """Base of every record ``Trainer.run`` yields; ``kind`` names it for JSON/UI use."""

    kind: str = dc_field(init=False, default="")

    def __post_init__(self):
        self.kind = getattr(type(self), "KIND", type(self).__name__.lower())

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Started(Event):
    model: str                  # one line: "GRU 1x256, embedding 128, 0.9M params"
    parameters: int
    device: str
    train_tokens: int
    val_tokens: int
    batches_per_epoch: int


@dataclass
class Baselines(Event):
    perplexities: dict          # {"unigram": ..., "bigram": ..., "trigram": ...} on validation


@dataclass
class Progress(Event):
    step: int
    epoch: float                # fractional: 2.5 = half way through the third epoch
    loss: float                 # this batch's mean cross-entropy (nats)
    lr: float
    grad_norm: float            # global norm before clipping
    tokens_per_s: float         # training throughput so far (evaluation time excluded)
    elapsed: float
    eta: float | None           # seconds left under the budget, when it can be told


@dataclass
class Evaluation(Event):
    step: int
    epoch: float
    train_ppl: float            # running perplexity of the training batches since the last evaluation
    train_eval_ppl: float | None  # a training slice as long as the validation text, eval mode
    val_ppl: float | None       # held-out lines; None without validation text
    best_val_ppl: float | None
    elapsed: float
    val_tokens: int | None = None   # validation tokens measured: a fixed sample between steps, all at the end
    full: bool = True               # measured on the whole validation set
    kept: bool = False              # the kept weights measured once more at the end (not a step's figure)


@dataclass
class Sample(Event):
    step: int
    prefix: str
    text: str


@dataclass
class TrainWarning(Event):
    """Something the user should know before or while training (``kind == "warning"``)."""

    KIND = "warning"            # a class attribute, not a field
    message: str                # plain English (a ``Note``; ui/wording.py words it for the app)


@dataclass
class Done(Event):
    reason: str                 # budget | epochs | steps | early_stopping | stopped
    step: int
    epoch: float
    elapsed: float
    tokens_per_s: float
    best_val_ppl: float | None
    final_val_ppl: float | None
    kept: str                   # which weights the model holds now: "best" | "last"


@dataclass
class Failed(Event):
    step: int
    message: str                # plain English (a ``Note``; ui/wording.py words it for the app)


def diverged(config, what: str, step: int) -> Failed:
    """The event that ends a diverged run at ``step`` (a ``TrainConfig``'s), with what went wrong and what to do."""
    why = []
    if not config.clip:
        why.append("gradient clipping is off")
    if (config.lr >= 1 and config.optimizer != "sgd") or config.lr >= 10:
        why.append(f"the learning rate ({config.lr:g}) is very high")
    cause = (" because " + " and ".join(why)) if why else ""
    return Failed(step=step, message=Note(
        f"Training diverged at step {step} ({what}): the gradients exploded{cause}. "
        "Turn clipping on or lower the learning rate. The model keeps its last good weights.",
        "diverged", step=step))
