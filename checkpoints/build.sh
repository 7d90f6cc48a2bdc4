#!/usr/bin/env bash
# Rebuild the shipped checkpoints from the d2l corpus in data/ (python -m lyricdemo fetch, or copy it in);
# tang-gru from the embedded Tang-poem corpus in corpora/.
#
#     bash checkpoints/build.sh            # all five: ~10 minutes on 2 CPU cores for the four lyrics models,
#                                          # tang-gru 25 more at most (corpora/README.md says what it took)
#     bash checkpoints/build.sh char-lstm  # one of them
#
# Each is the project's own training command: the default recipe (lyricdemo.presets.DEFAULT: embedding 128,
# hidden 256, dropout 0.3/0.6, AdamW 3e-3 with weight decay 1, sequential sampling, batch 32 x 35) with the
# full softmax (`--adaptive` with no cutoffs: ~8% lower held-out perplexity than the default's adaptive
# softmax), early stopping after 6 evaluations without a better validation perplexity (the best weights are
# kept), at most 6 minutes, float16 weights.  `--card` then reloads the stored checkpoint and writes the
# model card (README.md) from figures measured on it.  Training uses torch's default threads (all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python

COMMON=(--adaptive --minutes 6 --patience 6 --fp16 --card --quiet)
declare -A ARGS=(
  [char-gru]="--model gru --seed 0"
  [char-lstm]="--model lstm --seed 0"
  [char-rnn]="--model rnn --seed 0"
  [word-gru]="--model gru --tokenizer word --seed 0"
  [tang-gru]="--file corpora/tang_poems.txt.zip --model gru --seed 0 --dropout-embed 0.1 --dropout-out 0.3 --lr 5e-3 --epochs 10 --prefix 床前 --prefix 春眠"
)
# tang-gru: lighter dropout and a higher learning rate than the lyrics' recipe fall faster on this corpus, 2.5x
# the lyrics (corpora/README.md).  Options after COMMON win over it: the run ends after 10 epochs, by early
# stopping, or at a longer time cap than the lyrics' 6 minutes.
# word-gru: its run ends by early stopping (~45 s on a quiet machine); the longer cap only keeps a busy shared
# machine from cutting it short.
declare -A TAIL=(
  [tang-gru]="--minutes 25"
  [word-gru]="--minutes 20"
)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(char-gru char-lstm char-rnn word-gru tang-gru)
for name in "${names[@]}"; do
  [ -n "${ARGS[$name]+x}" ] || { echo "unknown checkpoint: $name (one of ${!ARGS[*]})" >&2; exit 2; }
  echo "=== $name"
  start=$(date +%s)
  # shellcheck disable=SC2086
  "$PY" -m lyricdemo train ${ARGS[$name]} "${COMMON[@]}" ${TAIL[$name]:-} --out "checkpoints/$name"
  echo "=== $name: $(( $(date +%s) - start )) s"
done
