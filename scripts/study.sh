#!/usr/bin/env bash
# The study of issue 24, end to end and resumable: train every model (3 training seeds each), evaluate every sampler
# and control (on language A's dev problems for the choices, on the test problems of all three languages and of the
# character-level text and Sudoku), and commit the rows under nbs/_results/study/. About 6 hours of one CPU core (the markov
# models about 3, the text models about 1.5, the width check 0.75, Sudoku 0.5; the trainings are most of it); finished runs and
# evaluations are skipped, so it can be stopped and rerun.
#   bash scripts/study.sh           # everything
#   bash scripts/study.sh train     # only the trainings;  bash scripts/study.sh eval   # only the markov evaluations
#   bash scripts/study.sh oracle    # only the exact oracles' evaluations (no training needed)
#   bash scripts/study.sh width     # only the width check: one seed of languages A and C at width 128 (about 45 CPU-minutes)
#   bash scripts/study.sh text      # only the text study (Shakespeare, one token per character): train, evaluate, commit
#   bash scripts/study.sh sudoku    # only the Sudoku study (6x6, three seeds): train, evaluate, commit (about 30 CPU-minutes)
#   ONLY="char_s0 charAR_s0" bash scripts/study.sh text   # only these runs and evaluations (to split a stage over cores)
# Then `ardm report` renders the README and the Results page from the committed rows.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 MPLBACKEND=Agg
ardm=.venv/bin/ardm
out=out/study2
what=${1:-all}
mkdir -p "$out"
# the markov-words languages: A, the shipped default; B, smaller and skewed; C, larger and flatter
declare -A LANG=(
  [mw]=""
  [mwB]="--param n_words=32 --param n_first=8 --param n_second=8 --param successors=3 --param skew=2.0 --param seed=1"
  [mwC]="--param n_words=96 --param n_first=12 --param n_second=12 --param successors=6 --param skew=0.5 --param seed=2"
)
declare -A STEPS=([mw]=8000 [mwB]=4000 [mwC]=4000)
MODEL="--task markov-words --config demo --set d_model=64"  # 4 layers of width 64, batch 32, eps-hybrid noise
WIDE="--task markov-words --config demo --set d_model=128"  # the same at width 128
TEXT="--task shakespeare-char --config demo"  # rows of 128 characters, 4 layers of width 128, batch 32, eps-hybrid noise
# text: the gate, its two ablations and the baselines, NFE 1, 2 and 4 passes per block of 16 (8 blocks a row);
# L2R (the AR model, one pass per written character) for BLEU parity; its margin is declared in
# nbs/_results/templates/study_summary.md (BLEU_MARGIN), committed before these evaluations ran
TSAMPLERS=confidence,p2,fixed,fixed@noguard,detect,gate,gate@fixed,gate@detect
TOPTIONS=(--option fixed@noguard.guards=false --option gate@fixed.mode=fixed --option gate@detect.mode=detect)

only() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }  # is NAME among $ONLY (or is $ONLY unset)?

train() {  # NAME STEPS FLAGS...: one run, skipped when finished with these flags, resumed when interrupted
  local name=$1 steps=$2; shift 2
  only "$name" || return 0
  if [ -f "$out/$name/results.json" ] && grep -q "\"steps\": $steps," "$out/$name/results.json"; then
    # flags.txt: the flags it was trained with (runs older than it are taken as they are)
    if [ ! -f "$out/$name/flags.txt" ] || [ "$(cat "$out/$name/flags.txt")" = "$*" ]; then return; fi
    echo "study: $out/$name was trained with other flags ($(cat "$out/$name/flags.txt")); move it aside" >&2; exit 1
  fi
  echo "== train $name ($steps steps)"
  $ardm train --steps "$steps" --threads 1 --resume --out "$out/$name" "$@" > "$out/$name.log" 2>&1 \
    || { tail -c 600 "$out/$name.log"; exit 1; }
  echo "$*" > "$out/$name/flags.txt"
}

# the samplers: strong baselines, the revisers, three gates, and each gate's controls (the same rule, acceptance and
# guards with the gate's score replaced by `fixed`, every written token, or by `detect`, p = 1 - q(x_i))
SAMPLERS=confidence,p2,wino,fixed,fixed@noguard,detect,gate,gate@fixed,gate@detect,gate@writeup,gate@wdetect,gate@cal,gate@caldetect
OPTIONS=(--option fixed@noguard.guards=false
  --option gate@fixed.mode=fixed --option gate@detect.mode=detect
  --option gate@writeup.refine=1 --option gate@writeup.gate.logq=false
  --option gate@wdetect.refine=1 --option gate@wdetect.mode=detect
  --option gate@cal.selector.method=calibrated --option gate@cal.guards=false --option gate@cal.refine=1
  --option gate@caldetect.selector.method=calibrated --option gate@caldetect.guards=false
  --option gate@caldetect.refine=1 --option gate@caldetect.mode=detect)

evaluate() {  # NAME MODEL SPLIT FLAGS...: one `ardm eval`, skipped when its rows exist
  local name=$1 model=$2 split=$3; shift 3
  only "$name" || return 0
  [ -f "$out/eval/$name/eval.json" ] && return
  echo "== eval $name"
  $ardm eval --model "$model" --split "$split" --nfe 4,8,16 --seeds 3 --rows 64 --threads 1 \
    --modes generate,repair --out "$out/eval/$name" "$@" > "$out/eval/$name.log" 2>&1 \
    || { tail -n 5 "$out/eval/$name.log"; exit 1; }
}

if [ "$what" = all ] || [ "$what" = train ] || [ "$what" = text ]; then  # the text models (about 75 CPU-minutes)
  for s in 0 1 2; do
    train "char_s$s" 1000 $TEXT --seed $s
    train "charAR_s$s" 1000 $TEXT --block-size 1 --noise absorbing --seed $s  # L2R's model
  done
fi
if [ "$what" = all ] || [ "$what" = width ]; then  # does width close the gap? one seed each, A and C, at 4000 steps
  for L in mw mwC; do train "${L}_w128_s0" 4000 $WIDE ${LANG[$L]} --seed 0; done
  if [ -z "${ONLY:-}" ]; then
    .venv/bin/python -c "from pathlib import Path; from ardm_nb.results import save_models
save_models({f'{L}-w128': [Path(f'out/study2/{L}_w128_s0')] for L in ('mw', 'mwC')}, 'nbs/_results/study/width.json')"
  fi
fi
if [ "$what" = all ] || [ "$what" = train ]; then
  for s in 0 1 2; do
    for L in mw mwB mwC; do train "${L}_s$s" "${STEPS[$L]}" $MODEL ${LANG[$L]} --seed $s; done
    train "mwAR_s$s" 4000 $MODEL --block-size 1 --noise absorbing --seed $s  # L2R's model: absorbing noise at L'=1 is the AR likelihood
  done
fi
mkdir -p "$out/eval"
if [ "$what" = all ] || [ "$what" = text ]; then
  for s in 0 1 2; do
    evaluate "char_s${s}_test" "$out/char_s$s/model" test --task shakespeare-char --nfe 8,16,32 --modes infill,repair \
      --samplers $TSAMPLERS "${TOPTIONS[@]}"
    evaluate "charAR_s${s}_test" "$out/charAR_s$s/model" test --task shakespeare-char --nfe 128 --modes infill \
      --samplers l2r
  done
  if [ -z "${ONLY:-}" ]; then
    .venv/bin/python - <<'PY'
from pathlib import Path
from ardm_nb.results import save_models, save_rows
out, dest = Path('out/study2/eval'), Path('nbs/_results/study')
keep = ('token_accuracy', 'sbleu', 'sbleu_floor', 'needless', 'fixed')
save_rows([out / f'char_s{s}_test' / 'eval.json' for s in range(3)], dest / 'char_trained_test.json', keep)
save_rows([out / f'charAR_s{s}_test' / 'eval.json' for s in range(3)], dest / 'char_l2r_test.json', keep)
runs = Path('out/study2')
save_models({m: [runs / f'{m}_s{s}' for s in range(3)] for m in ('char', 'charAR')}, dest / 'text_models.json')
print('text rows committed under', dest)
PY
  fi
fi
if [ "$what" = all ] || [ "$what" = sudoku ]; then  # Sudoku 6x6: an exact checker, no oracle denoiser
  for s in 0 1 2; do train "sudoku_s$s" 1000 --task sudoku-6x6 --config demo --seed $s; done
  for s in 0 1 2; do
    evaluate "sudoku_s${s}_test" "$out/sudoku_s$s/model" test --task sudoku-6x6 --nfe 4,9,27 --modes solve \
      --samplers $TSAMPLERS "${TOPTIONS[@]}"
  done
  if [ -z "${ONLY:-}" ]; then
    .venv/bin/python - <<'PY'
from pathlib import Path
from ardm_nb.results import save_models, save_rows
out, dest = Path('out/study2/eval'), Path('nbs/_results/study')
save_rows([out / f'sudoku_s{s}_test' / 'eval.json' for s in range(3)], dest / 'sudoku_trained_test.json',
          ('solved', 'cell_accuracy', 'needless', 'fixed'))
save_models({'sudoku': [Path('out/study2') / f'sudoku_s{s}' for s in range(3)]}, dest / 'sudoku_models.json')
print('sudoku rows committed under', dest)
PY
  fi
fi
if [ "$what" != train ] && [ "$what" != text ] && [ "$what" != width ] && [ "$what" != sudoku ]; then  # the exact oracles first: they need no training (`bash scripts/study.sh oracle`)
  for L in mw mwB mwC; do
    for split in dev test; do
      evaluate "${L}_oracle_$split" oracle $split --task markov-words ${LANG[$L]} --samplers $SAMPLERS "${OPTIONS[@]}"
    done
  done
fi
if [ "$what" = all ] || [ "$what" = eval ]; then
  for L in mw mwB mwC; do
    for split in test $([ $L = mw ] && echo dev); do  # choices are made on language A's dev problems
      for s in 0 1 2; do
        evaluate "${L}_s${s}_$split" "$out/${L}_s$s/model" $split --task markov-words ${LANG[$L]} \
          --samplers $SAMPLERS "${OPTIONS[@]}"
      done
    done
  done
  for s in 0 1 2; do  # early stop against the engine's own skip of unchanged passes, and against the naive engine
    evaluate "mw_s${s}_earlystop_test" "$out/mw_s$s/model" test --task markov-words --nfe 32 \
      --samplers gate,gate@noes,gate@naive,gate@naivenoes --option gate.refine=4 --option gate@noes.refine=4 \
      --option gate@naive.refine=4 --option gate@naivenoes.refine=4 --option gate@noes.early_stop=false \
      --option gate@naive.reuse_passes=false --option gate@naivenoes.reuse_passes=false \
      --option gate@naivenoes.early_stop=false
  done
  for s in 0 1 2; do  # L2R at its natural cost: one pass per token
    evaluate "mwAR_s${s}_test" "$out/mwAR_s$s/model" test --task markov-words --samplers l2r --nfe 64
  done
  .venv/bin/python - <<'PY'
from pathlib import Path
from ardm_nb.results import save_rows
out, dest = Path('out/study2/eval'), Path('nbs/_results/study')
keep = ('invalid_word_rate', 'token_accuracy', 'needless', 'fixed')  # the per-problem scores the pages read
for L in ('mw', 'mwB', 'mwC'):
    for split in ('dev', 'test'):
        save_rows(out / f'{L}_oracle_{split}' / 'eval.json', dest / f'{L}_oracle_{split}.json', keep)
        if L == 'mw' or split == 'test':
            save_rows([out / f'{L}_s{s}_{split}' / 'eval.json' for s in range(3)], dest / f'{L}_trained_{split}.json', keep)
save_rows([out / f'mwAR_s{s}_test' / 'eval.json' for s in range(3)], dest / 'mw_l2r_test.json', keep)
save_rows([out / f'mw_s{s}_earlystop_test' / 'eval.json' for s in range(3)], dest / 'mw_earlystop_test.json', keep)
from ardm_nb.results import save_models
runs = Path('out/study2')
save_models({m: [runs / f'{m}_s{s}' for s in range(3)] for m in ('mw', 'mwB', 'mwC', 'mwAR')},
            dest / 'models.json')
print('rows committed under', dest)
PY
fi
