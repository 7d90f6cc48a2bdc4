"""The lesson's words: the end-of-run verdict, the memorization gap, the repetition flag, the meter on
the continuation only, perplexities with their unit -- pure functions, no server."""

from __future__ import annotations

from lyricdemo.novelty import CorpusIndex, repetition
from lyricdemo.ui.tab_generate import perplexity_text
from lyricdemo.ui.train_view import memorization_gap, verdict
from lyricdemo.ui.widgets import memorization_html
from lyricdemo.ui.wording import repetition_summary


def test_verdict_says_by_how_much_it_beats_the_bigram():
    v = verdict(220.0, {"unigram": 410.0, "bigram": 275.0})
    assert "beats the bigram by 20%" in v and "比二元模型低 20%" in v and v.index("beats") < v.index("比")
    miss = verdict(313.6, {"bigram": 267.0})
    assert "not yet below the bigram** (313.6 vs 267.0): train longer" in miss and "还没有低于二元模型" in miss
    level = verdict(188.6, {"bigram": 186.4})               # the shipped char GRU against the modified-KN bigram
    assert "level with the bigram** (188.6 vs 186.4): not below it" in level and "与二元模型持平" in level
    assert "beats" not in verdict(183.0, {"bigram": 186.4})  # 2% below is still level, not a win
    assert verdict(None, {"bigram": 267.0}) == "" and verdict(200.0, None) == "" and verdict(200.0, {}) == ""


def test_memorization_gap_names_the_state():
    assert "not memorizing" in memorization_gap(200.0, 220.0) and "×1.10" in memorization_gap(200.0, 220.0)
    assert "starting to memorize" in memorization_gap(100.0, 150.0)
    assert "memorizing its training lyrics" in memorization_gap(20.0, 190.0)
    assert memorization_gap(None, 190.0) == "" and memorization_gap(20.0, float("nan")) == ""


def test_repetition_finds_line_loops_and_runs():
    greedy = "分开\n" + "我想你在远方\n" * 12 + "我"
    r = repetition(greedy)
    assert r is not None and r.kind == "line" and r.count == 12
    assert r.summary() == "repeats one line 12× (“我想你在远方”)"
    assert repetition_summary(r) == "repeats one line 12× (“我想你在远方”) / 同一行重复 12 次"
    run = repetition("天空" + "爱你" * 6 + "。")
    assert run is not None and run.kind == "run" and run.unit == "爱你" and run.count == 6
    assert repetition("月光洒在小河上\n风吹过我的窗\n你在远方唱") is None
    assert repetition("") is None and repetition("啊啊啊") is None           # three is not yet a loop


def test_meter_counts_only_the_continuation():
    corpus = "月光洒在小河上风吹过我的窗\n你在远方唱\n"
    index = CorpusIndex(corpus)
    prefix, cont = "月光洒在小河上风吹过", "天空很蓝"
    html = memorization_html(prefix + cont, len(prefix), index.check(cont))
    assert "mostly new" in html and "<mark" not in html.split("ld-gen-text")[1].split("</div>")[0]
    assert "of the continuation" in html and html.count("<u ") == len(prefix)      # the prefix keeps its underline
    copied = "我的窗\n你在远方唱"                                               # 8+ characters of the corpus
    html = memorization_html("风吹过" + copied, 3, index.check(copied))
    body = html.split('class="ld-gen-text">')[1]
    assert body.index("<mark") > body.index("</u>")                    # highlighted after the prefix, shifted
    loop = memorization_html("分开" + "你在远方唱\n" * 5, 2, index.check("你在远方唱\n" * 5))
    assert "repeats one line 5× (“你在远方唱”) / 同一行重复 5 次" in loop             # the app words it in both languages
    assert "longest verbatim copy: " in loop and " / 最长照抄 " in loop and " 字的照抄: " in loop
    assert "ld-gen-done" in memorization_html("分开好", 2, None, "no corpus")          # text shown without a meter


def test_perplexity_has_its_unit_and_the_bigram_ratio():
    w = perplexity_text(77.7, "word", {"bigram": 160.9})
    c = perplexity_text(188.6, "char", {"bigram": 186.4})
    assert "per word" in w and "每词" in w and "per character" in c and "每字" in c
    assert "0.48× its bigram" in w and "below the bigram / " in w and "低于二元模型" in w
    assert "1.01× its bigram" in c and "level with the bigram / " in c and "与二元模型持平" in c
    assert "worse than the bigram / " in perplexity_text(212.9, "char", {"bigram": 186.4})
    assert "bigram" not in perplexity_text(100.0, "char", None)


def test_a_lesson_link_sets_tab_model_prefix_decoding_and_seed():
    from lyricdemo.ui import registry
    from lyricdemo.ui.links import from_query

    keys = [k for _, k in registry.choices(None)]
    q = {"tab": "generate", "prefix": "分开", "strategy": "sample", "temperature": "0.8", "top_p": "0.9", "seed": "7",
         "preset": "d2l", "text": "天空很蓝"}
    if keys:
        q["model"] = keys[0].removeprefix("shipped:")
    values, notes = from_query(q)
    assert not notes
    assert values["tab"] == "generate" and values["prefix"] == "分开" and values["seed"] == 7
    assert values["temperature"] == 0.8 and values["top_p"] == 0.9 and values["preset"] == "d2l"
    assert values["text"] == "天空很蓝" and (not keys or values["model"] == keys[0])
    values, notes = from_query({"tab": "nowhere", "temperature": "hot", "seed": "-1", "model": "no-such-model",
                                "prefix": "x" * 100_000})
    assert values == {} and len(notes) == 5                              # dropped with a note each, never an error
    assert all(" / " in n and "ignored" in n for n in notes)


def test_the_classroom_preset_is_a_step_budget_with_a_curve():
    from lyricdemo.presets import PRESETS
    from lyricdemo.ui import tab_train

    t = PRESETS["classroom"]["train"]
    assert t["max_steps"] > 0 and t["max_steps"] // t["eval_every"] >= 8       # >= 8 points on the chart
    v = tab_train.preset_values("classroom")
    assert v["max_steps"] == t["max_steps"] and v["eval_every"] == t["eval_every"]
