"""The recipe sized to the corpus (lyricdemo/recipe.py), the CLI that uses it, and the trainer's evaluation
cost: a fixed validation sample between steps, the whole set at the end, inside the time budget."""

from __future__ import annotations

import random

import pytest

from lyricdemo import recipe
from lyricdemo.cli import parse_args
from lyricdemo.cli.cmd_train import _sized_to_corpus
from lyricdemo.corpus import read_corpus_bytes
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.train_eval import PIECE
from lyricdemo.models import ModelConfig
from lyricdemo.presets import DEFAULT, FULL_SOFTMAX, PRESETS, apply
from lyricdemo.recipe import adapt
from lyricdemo.train import Trainer, TrainConfig, new_model, perplexity

pytestmark = pytest.mark.usefixtures("one_thread")

# the d2l lyrics as the default data config reads them: training tokens, vocabulary, validation tokens
LYRICS = (56_357, 2_053, 8_014)
SIZES = [2_000, 8_000, 25_000, 56_357, 100_000, 150_000, 300_000, 450_000, 1_000_000, 1_700_000, 5_000_000]


def test_the_lyrics_get_the_recipe_of_the_shipped_char_models_and_awds_dropouts():
    """Today's default recipe with the full softmax (presets.FULL_SOFTMAX): the shipped char models' recipe, with
    AWD-LSTM's weight drop and locked dropout, and the bigram's soft targets."""
    r = adapt(*LYRICS)
    whole = apply({**DEFAULT, "model": {**FULL_SOFTMAX, "dropout_hh": recipe.WEIGHT_DROP, "locked_dropout": True},
                   "train": {"soft_targets": recipe.SOFT_TARGETS}})
    flat = {**whole["data"], **whole["model"], **whole["train"]}
    assert r.flat(), "the rule names its values even where they are today's"
    for k, v in r.flat().items():
        assert flat[k] == pytest.approx(v), k
    assert r.model["adaptive_cutoffs"] == () and any("full softmax" in line for line in r.reasons)
    assert r.model["dropout_hh"] == 0.5 and r.model["locked_dropout"] and any("AWD" in line for line in r.reasons)
    assert r.data == {} and "eval_sample" not in r.train       # all 8,014 validation tokens, at every evaluation
    assert r.passes > recipe.HEAVY_PASSES
    assert r.train["soft_targets"] == 0.3 and any("soft targets" in line for line in r.reasons)


def test_the_classroom_preset_and_the_default_recipe_are_not_sized():
    """The rule is applied by the CLI's default train only: the presets stay as they were."""
    assert PRESETS["classroom"]["train"]["eval_every"] == 25 and "eval_sample" not in PRESETS["classroom"]["train"]
    assert DEFAULT["model"]["dropout_out"] == 0.6 and apply(DEFAULT)["train"]["eval_sample"] == 0


def test_sizes_are_monotone_and_bounded():
    rs = [adapt(n, 3_000, n // 9) for n in SIZES]
    for a, b in zip(rs, rs[1:]):
        assert b.model["hidden_size"] >= a.model["hidden_size"]
        assert b.train["batch_size"] >= a.train["batch_size"]
        assert b.model["dropout_out"] <= a.model["dropout_out"]
        assert b.model["dropout_embed"] <= a.model["dropout_embed"]
        assert b.train["weight_decay"] <= a.train["weight_decay"]
        assert b.train["max_seconds"] >= a.train["max_seconds"]
        assert b.passes < a.passes
    for r in rs:
        assert 0.05 <= r.model["dropout_embed"] <= 0.3 and 0.1 <= r.model["dropout_out"] <= 0.6
        assert 0.1 <= r.train["weight_decay"] <= 1.0
        assert recipe.MIN_SECONDS <= r.train["max_seconds"] <= 180
        assert r.train["eval_every"] >= 50
        apply(r.parts())                                          # every value is a field of its config
        assert r.reasons and all(" / " in line for line in r.reasons)   # bilingual, English first
    assert rs[0].train["max_seconds"] == recipe.MIN_SECONDS             # a tiny corpus: a shorter budget
    assert rs[-1].model["dropout_out"] == 0.1 and rs[-1].train["weight_decay"] == 0.1   # 5M: lightest
    assert rs[-1].model["hidden_size"] > rs[0].model["hidden_size"]


def test_evaluations_between_steps_read_a_bounded_share_of_the_tokens():
    for n in SIZES:
        val = n // 9
        r = adapt(n, 3_000, val)
        trained = r.train["eval_every"] * r.train["batch_size"] * r.train["num_steps"]
        if val > recipe.EVAL_SAMPLE:
            assert r.train["eval_sample"] == recipe.EVAL_SAMPLE
            assert trained >= recipe.TRAIN_PER_EVAL * 2 * recipe.EVAL_SAMPLE
        else:
            assert "eval_sample" not in r.train and r.train["eval_every"] == 50


def test_runs_that_use_their_whole_budget_anneal_the_learning_rate():
    """Few passes: no early stopping ends the run, so the rate falls along a cosine over the budget; many
    passes (the lyrics): early stopping ends the run long before, and the rate stays constant and the
    softmax is the full one (its slower steps cost nothing there)."""
    assert adapt(*LYRICS).train["lr_schedule"] == "constant"
    assert adapt(7_600, 750, 850).train["lr_schedule"] == "constant"          # a tiny corpus: a shorter budget
    for n in (150_000, 1_000_000, 5_000_000):
        r = adapt(n, 3_000, n // 9)
        assert r.passes < recipe.HEAVY_PASSES and r.train["lr_schedule"] == "cosine"
        assert any("cosine" in line for line in r.reasons)
        assert "adaptive_cutoffs" not in r.model                 # the budget binds: the faster adaptive softmax stays
    edge = int(180 * recipe.REFERENCE_TOKENS_PER_S / recipe.HEAVY_PASSES)     # exactly HEAVY_PASSES passes
    assert adapt(edge, 3_000).train["lr_schedule"] == "constant" and adapt(edge, 3_000).model["adaptive_cutoffs"] == ()
    assert adapt(edge + 1_000, 3_000).train["lr_schedule"] == "cosine"
    assert "adaptive_cutoffs" not in adapt(edge + 1_000, 3_000).model


def test_fine_tuning_learns_at_a_third_of_the_rate_and_changes_nothing_else():
    """``--init-from``: the same sizes, a third of the learning rate, and a reason that says so."""
    for args in (LYRICS, (1_000_000, 3_000, 110_000)):
        plain, fine = adapt(*args), adapt(*args, fine_tune=True)
        assert fine.train["lr"] == pytest.approx(plain.train["lr"] * recipe.FINE_TUNE_LR, abs=1e-5)
        assert {k: v for k, v in fine.flat().items() if k != "lr"} == \
            {k: v for k, v in plain.flat().items() if k != "lr"}
        assert len(fine.reasons) == len(plain.reasons) + 1 and any("pretrained" in r for r in fine.reasons)


def test_a_large_corpus_steps_on_many_short_rows_and_a_lightly_read_one_gets_a_wider_gru():
    """From LARGE training tokens a step is WIDE_ROWS rows of WIDE_STEPS tokens (about the tokens of 64 x 35, faster
    on a CPU), the learning rate scaled by the square root of the tokens per step; a corpus the budget reads at most
    LIGHT_PASSES times gets a GRU 384."""
    small, large = adapt(recipe.LARGE - 1, 3_000), adapt(recipe.LARGE, 3_000)
    assert (small.train["batch_size"], small.train["num_steps"], small.train["lr"]) == (32, 35, 3e-3)
    assert (large.train["batch_size"], large.train["num_steps"]) == (recipe.WIDE_ROWS, recipe.WIDE_STEPS) == (256, 9)
    assert large.train["lr"] == pytest.approx(3e-3 * (256 * 9 / (32 * 35)) ** 0.5, rel=1e-3)
    assert any("256 rows x 9 tokens" in line for line in large.reasons)
    edge = int(180 * recipe.REFERENCE_TOKENS_PER_S / recipe.LIGHT_PASSES)      # exactly LIGHT_PASSES passes
    assert adapt(edge, 3_000).model["hidden_size"] == 384 and adapt(edge + 10_000, 3_000).model["hidden_size"] == 384
    assert adapt(edge - 10_000, 3_000).model["hidden_size"] == 256
    assert any("wider GRU" in line for line in adapt(edge, 3_000).reasons)
    assert not any("wider GRU" in line for line in adapt(edge - 10_000, 3_000).reasons)


def test_a_large_vocabulary_cuts_its_rarest_tokens_and_bad_sizes_are_refused():
    assert adapt(1_700_000, 8_000, 190_000).data == {"min_freq": 3}
    assert adapt(1_700_000, 3_000, 190_000).data == {}
    with pytest.raises(ValueError):
        adapt(0, 100)


def _words_file(tmp_path, n_chars: int):
    rng = random.Random(0)
    words = ["the", "king", "queen", "love", "night", "sword", "crown", "heart", "speak", "thou"]
    lines, size = [], 0
    while size < n_chars:
        line = " ".join(rng.choice(words) for _ in range(8))
        lines.append(line)
        size += len(line) + 1
    p = tmp_path / "words.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_the_cli_sizes_the_recipe_and_explicit_flags_win(tmp_path, capsys):
    f = _words_file(tmp_path, 400_000)
    args = parse_args(["train", "--file", str(f), "--dropout-out", "0.4"])
    ds = load_dataset(DataConfig(source=str(f)))
    _sized_to_corpus(args, ds)
    out = capsys.readouterr().out
    r = adapt(len(ds.train_ids), len(ds.vocab), len(ds.val_ids))
    assert args.dropout_out == 0.4 and "kept as given" in out and "dropout_out" in out
    assert args.hidden_size == r.model["hidden_size"] == 256 and args.batch_size == r.train["batch_size"] == 256
    assert args.num_steps == r.train["num_steps"] == 9 and args.lr == r.train["lr"]
    assert args.weight_decay == r.train["weight_decay"] < 1.0
    assert args.eval_sample == recipe.EVAL_SAMPLE and "passes" in out


def test_fixed_recipe_and_presets_are_not_sized():
    assert parse_args(["train", "--fixed-recipe"]).fixed_recipe
    args = parse_args(["train", "--preset", "classroom", "--lr", "0.01"])
    assert args.preset == "classroom" and {"lr", "preset"} <= args.explicit and "hidden_size" not in args.explicit


# ----------------------------------------------------------------------------- evaluation cost
LINE = "the quick brown fox jumps over the lazy dog and runs far away\n"


@pytest.fixture(scope="module")
def ds():
    raw = read_corpus_bytes((LINE * 200).encode(), "fox.txt")
    return load_dataset(DataConfig(min_freq=1, clean="none"), raw=raw)


def _trainer(ds, **kw):
    model = new_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=8, hidden_size=16), seed=0)
    base = dict(batch_size=4, num_steps=8, max_seconds=0, max_steps=6, eval_every=2, sample_length=0)
    base.update(kw)
    return Trainer(model, ds, TrainConfig(**base))


def test_a_fixed_sample_between_steps_and_the_whole_set_at_the_end(ds):
    assert len(ds.val_ids) > 500
    tr = _trainer(ds, eval_sample=100)
    evs = [e for e in tr.run() if e.kind == "evaluation"]
    between, last = evs[:-1], evs[-1]
    assert [e.step for e in between] == [2, 4, 6]
    assert all(e.val_tokens == 100 and not e.full for e in between)
    assert last.full and last.val_tokens == len(ds.val_ids)
    assert last.step == 6 and last.train_ppl == between[-1].train_ppl         # no batches since the last one
    # the final figure is the kept weights' on the whole set (as pieces of >= PIECE targets: 2 of its 1,239), and
    # so is the best the run reports
    assert last.val_ppl == pytest.approx(perplexity(tr.model, ds.val_ids, streams=2), rel=1e-5)
    assert tr.best_val_ppl == last.val_ppl and tr.history[-1]["full"]
    assert tr.eval_tokens == 3 * (100 + 512) + len(ds.val_ids) + 512     # the training slice stays short


def test_without_a_sample_the_whole_set_is_read_as_pieces_between_steps_and_as_one_stream_at_the_end(ds):
    tr = _trainer(ds)
    evs = [e for e in tr.run() if e.kind == "evaluation"]
    between, last = evs[:-1], evs[-1]
    assert len(between) == 3 and all(e.full and e.val_tokens == len(ds.val_ids) and not e.kept for e in between)
    assert last.kept and last.full and last.step == 6
    # the steps were compared as pieces side by side, the kept weights' figure is one stream (what `evaluate` gives)
    assert tr.best_read == min(e.val_ppl for e in between)
    streams = (len(ds.val_ids) - 1) // PIECE
    assert streams == 2 and Trainer._val_streams(len(ds.val_ids)) == 2           # pieces of at least PIECE targets
    assert tr.best_read == pytest.approx(perplexity(tr.model, ds.val_ids, streams=streams), rel=1e-5)
    assert last.val_ppl == pytest.approx(perplexity(tr.model, ds.val_ids), rel=1e-5) != tr.best_read
    assert tr.best_val_ppl == last.val_ppl and tr.history[-1]["kept"]
    # the one-stream read was timed once, at the first evaluation, for the budget's reserve
    assert tr.stream_tokens == len(ds.val_ids) and 0 < tr.stream_seconds < tr.eval_seconds
    assert tr.eval_tokens == 4 * 2 * len(ds.val_ids)                      # pieces (and the final one)


def test_a_validation_set_too_short_for_pieces_is_read_as_one_stream_throughout():
    raw = read_corpus_bytes((LINE * 100).encode(), "fox.txt")
    small = load_dataset(DataConfig(min_freq=1, clean="none", val_fraction=0.1), raw=raw)
    assert len(small.val_ids) - 1 < 2 * PIECE
    tr = _trainer(small)
    evs = [e for e in tr.run() if e.kind == "evaluation"]
    assert len(evs) == 3 and not any(e.kept for e in evs) and tr.stream_tokens == 0
    assert tr.best_val_ppl == pytest.approx(perplexity(tr.model, small.val_ids), rel=1e-5)


def test_the_budget_keeps_time_for_the_final_evaluation(ds):
    tr = _trainer(ds, eval_sample=100, max_steps=0, max_seconds=100)
    assert tr.final_reserve() == 0.0                       # nothing measured yet
    tr.eval_seconds, tr.eval_tokens = 1.0, 1_000           # 1 ms a token, as if measured
    n = len(ds.val_ids)
    assert tr.final_reserve() == pytest.approx(1.25 * 1e-3 * (n + 512))
    assert tr._budget_reason(100 - tr.final_reserve() - 1) is None
    assert tr._budget_reason(100 - tr.final_reserve() + 0.01) == "budget"
    no_sample = _trainer(ds, max_steps=0, max_seconds=100)   # its last evaluation reads all too, as one stream
    no_sample.eval_seconds, no_sample.eval_tokens = 1.0 + 0.5, 1_000      # ... 1 ms a token as pieces, and ...
    no_sample.stream_seconds, no_sample.stream_tokens = 0.5, 100          # ... 5 ms a token as one stream
    assert no_sample.final_reserve() == pytest.approx(1.25 * (5e-3 * n + 1e-3 * min(max(n, 512), len(ds.train_ids))))
    assert no_sample._budget_reason(99.9) == "budget"


def test_reading_the_text_as_pieces_side_by_side_keeps_the_targets(ds):
    model = new_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=8, hidden_size=16), seed=1)
    ids = ds.val_ids[:1001]                              # 1,000 targets: 7 pieces of 142 and 6 read on
    one = perplexity(model, ids)
    assert perplexity(model, ids, streams=1, chunk=37) == pytest.approx(one, rel=1e-5)
    many = perplexity(model, ids, streams=7)
    assert many == pytest.approx(one, rel=0.05) and many != one    # only the context restarts, 6 times
    assert perplexity(model, ids[:100], streams=16) == pytest.approx(perplexity(model, ids[:100]), rel=1e-5)


def test_the_app_draws_the_steps_and_says_where_the_kept_figure_comes_from(ds):
    from lyricdemo.ui.train_view import status_markdown
    from lyricdemo.ui.training_run import TrainingRun

    tr = _trainer(ds)
    run = TrainingRun(number=1, label="#1", trainer=None, dataset=None)
    for ev in tr.run():
        run.record(ev)
    assert run.curves.eval_steps == [2, 4, 6] and run.last_eval.kept          # the kept figure is not a step's
    assert run.outcome.best_val_ppl == run.last_eval.val_ppl
    assert "the kept weights, the whole validation set / 保留的权重，全部验证集" in status_markdown(run)
    last_kept = TrainingRun(number=2, label="#2", trainer=None, dataset=None)
    for ev in _trainer(ds, keep_best=False).run():
        last_kept.record(ev)
    assert last_kept.outcome.kept == "last" and "保留的权重，全部验证集" not in status_markdown(last_kept)


def test_the_command_line_prints_the_kept_figure_apart_from_the_steps(ds):
    from lyricdemo.cli.cmd_train import _show_event

    lines = []
    for ev in _trainer(ds).run():
        _show_event(ev, lines.append, None, 6, "steps")
    evals = [line for line in lines if "validation ppl" in line]
    assert [line.split()[1] for line in evals[:3]] == ["2", "4", "6"]
    assert evals[-1].startswith("kept weights (best step), the whole validation set: validation ppl") and len(evals) == 4


def test_awds_dropouts_go_to_heavy_corpora_but_not_to_one_so_small_its_budget_is_shortened():
    lyrics, daya, tang = adapt(*LYRICS), adapt(7_619, 750, 915), adapt(147_968, 3_106, 16_415)
    assert lyrics.model["dropout_hh"] == recipe.WEIGHT_DROP and lyrics.model["locked_dropout"]
    assert daya.passes > recipe.HEAVY_PASSES and daya.train["max_seconds"] < 180          # heavy, and shortened
    assert "dropout_hh" not in daya.model and not any("AWD" in line for line in daya.reasons)
    assert daya.model["adaptive_cutoffs"] == ()                                           # still the full softmax
    assert tang.passes < recipe.HEAVY_PASSES and "dropout_hh" not in tang.model


def test_soft_targets_go_to_every_heavy_corpus_and_to_no_corpus_the_budget_reads_few_times():
    """The bigram's soft targets help where the network is near the bigram (the lyrics 185.4 -> 171.8, 大雅 57.3 ->
    55.3) and hurt where it is far ahead (the Tang poems, 18 passes: 102.0 -> 122.9; bench/RESULTS.md)."""
    for n in SIZES:
        r = adapt(n, 3_000, n // 9)
        assert r.train.get("soft_targets", 0.0) == (recipe.SOFT_TARGETS if r.passes >= recipe.HEAVY_PASSES else 0.0), n
    assert "soft_targets" not in adapt(147_968, 3_106, 16_415).train
    assert adapt(7_619, 750, 915).train["soft_targets"] == recipe.SOFT_TARGETS


def test_an_explicit_flag_turns_awds_dropouts_off_on_the_lyrics(tmp_path, capsys):
    f = tmp_path / "lyrics.txt"
    f.write_text("".join(random.Random(0).choice("月光洒在小河上风吹过我的窗你在远方唱星星一闪亮") + ("\n" if i % 9 == 8 else "")
                         for i in range(60_000)), encoding="utf-8")
    ds = load_dataset(DataConfig(source=str(f)))
    args = parse_args(["train", "--file", str(f), "--no-locked-dropout", "--dropout-hh", "0"])
    _sized_to_corpus(args, ds)
    r = adapt(len(ds.train_ids), len(ds.vocab), len(ds.val_ids))
    assert r.model["locked_dropout"] and r.model["dropout_hh"] == recipe.WEIGHT_DROP     # what the rule would give
    assert args.locked_dropout is False and args.dropout_hh == 0 and "kept as given" in capsys.readouterr().out
    assert parse_args(["train", "--locked-dropout"]).locked_dropout and not parse_args(["train"]).locked_dropout
