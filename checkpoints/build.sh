#!/usr/bin/env bash
# Rebuild the shipped checkpoints from the d2l corpus in data/ (python -m lyricdemo fetch, or copy it in);
# tang-gru from the embedded Tang-poem corpus in corpora/.
#
#     bash checkpoints/build.sh            # all five: ~10 minutes on 2 CPU cores for the four lyrics models,
#                                          # tang-gru 3 more (and a minute for its card)
#     bash checkpoints/build.sh char-lstm  # one of them
#
# Each is the project's own training command.  The four lyrics models: the default recipe
# (lyricdemo.presets.DEFAULT: embedding 128, hidden 256, dropout 0.3/0.6, AdamW 3e-3 with weight decay 1,
# sequential sampling, batch 32 x 35) with the full softmax (`--adaptive` with no cutoffs: ~8% lower held-out
# perplexity than the default's adaptive softmax), early stopping after 6 evaluations without a better
# validation perplexity (the best weights are kept), at most 6 minutes.  tang-gru: exactly what
# `python -m lyricdemo train --file corpora/tang_poems.txt.zip` trains, the recipe sized to the corpus
# (lyricdemo/recipe.py) in its 3-minute budget.  All: float16 weights; `--card` then reloads the stored
# checkpoint and writes the model card (README.md) from figures measured on it.  Training uses torch's
# default threads (all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python

COMMON=(--fp16 --card --quiet)
LYRICS=(--adaptive --minutes 6 --patience 6)
declare -A ARGS=(
  [char-gru]="--model gru --seed 0"
  [char-lstm]="--model lstm --seed 0"
  [char-rnn]="--model rnn --seed 0"
  [word-gru]="--model gru --tokenizer word --seed 0"
  [tang-gru]="--file corpora/tang_poems.txt.zip --model gru --seed 0 --prefix 床前 --prefix 春眠"
)
# Options after the shared ones win over them.
# word-gru: its run ends by early stopping (~45 s on a quiet machine); the longer cap only keeps a busy shared
# machine from cutting it short.
declare -A TAIL=(
  [word-gru]="--minutes 20"
)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(char-gru char-lstm char-rnn word-gru tang-gru)
for name in "${names[@]}"; do
  [ -n "${ARGS[$name]+x}" ] || { echo "unknown checkpoint: $name (one of ${!ARGS[*]})" >&2; exit 2; }
  echo "=== $name"
  start=$(date +%s)
  shared=()                                # the lyrics models: LYRICS, then COMMON; tang-gru: COMMON
  [ "$name" = tang-gru ] || shared=("${LYRICS[@]}")
  shared+=("${COMMON[@]}")
  # shellcheck disable=SC2086
  "$PY" -m lyricdemo train ${ARGS[$name]} "${shared[@]}" ${TAIL[$name]:-} --out "checkpoints/$name"
  echo "=== $name: $(( $(date +%s) - start )) s"
done
