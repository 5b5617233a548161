"""Golden fixtures of every sampler: seeded `sample` runs on small saved models, recorded and compared exactly.

    python tools/golden.py            # (re)build the models if missing and record tests/golden/samplers.json
    python tools/golden.py --check    # recompute and compare with the recorded fixture (exit 1 on a difference)

Beside the samplers, the full rows of an oracle `ardm eval` on markov-words (every default sampler, NFE 4 and 8, two
seeds, generate and repair) are recorded in tests/golden/eval_rows.json, all but the wall-clock timings.

Float results can differ between CPU types: record and compare on the same machine (the fixture is a safety net for a
refactoring, recorded from the code before the change). `tests/test_golden.py` runs the check."""
import argparse, json, sys
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / 'tests' / 'golden'
FIXTURE = GOLDEN / 'samplers.json'
EVAL_FIXTURE = GOLDEN / 'eval_rows.json'
TIMINGS = ('seconds_per_sample',)  # wall clock: the only numbers of a row that are not reproducible
BUDGETS = (4, 8, 16)
# the models: absorbing (SUBS), hybrid (no carry-over: the samplers that judge written tokens), block-size-1 (l2r)
KINDS = dict(absorbing=dict(), hybrid=dict(subs=False), ar=dict(block_size=1))
HYBRID = ('fixed', 'position', 'gate', 'p2', 'acs', 'detect', 'wino')
PROMPT = [[5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16]]


def tiny_config(kind: str):
    from ardm_nb.model import TINY, ModelConfig
    return ModelConfig(**{**TINY, **KINDS[kind]})


def build_models(folder: Path = GOLDEN / 'model'):
    "Seeded TINY models with spread weights (std 0.3: varied distributions, no float ties), saved as state dicts."
    from ardm_nb.model import BlockDiffusionLM
    folder.mkdir(parents=True, exist_ok=True)
    for i, kind in enumerate(KINDS):
        torch.manual_seed(i)
        lm = BlockDiffusionLM(tiny_config(kind))
        with torch.no_grad():
            for w in lm.parameters():
                if w.ndim == 2:
                    w.normal_(0, 0.3)
        torch.save(lm.state_dict(), folder / f'{kind}.pt')


def load_models(folder: Path = GOLDEN / 'model') -> dict:
    from ardm_nb.model import BlockDiffusionLM
    out = {}
    for kind in KINDS:
        lm = BlockDiffusionLM(tiny_config(kind))
        lm.load_state_dict(torch.load(folder / f'{kind}.pt', weights_only=True))
        out[kind] = lm.eval()
    return out


def cases(name: str, budget: int, models: dict):
    "(case name, model, sample keyword arguments) of one sampler at one budget."
    from ardm_nb.samplers import ModelWindow
    kind = 'ar' if name == 'l2r' else 'hybrid' if name in HYBRID else 'absorbing'
    lm, mask = models[kind], models[kind].cfg.mask_id
    prompt = torch.tensor(PROMPT)
    yield 'prompt', lm, dict(prompt_ids=prompt, length=16)
    yield 'short', lm, dict(prompt_ids=torch.tensor(PROMPT)[:, :4].repeat(1, 3), length=16)
    yield 'long', lm, dict(prompt_ids=prompt, length=24)
    infill = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
                           [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3]])
    infill[:, [5, 9, 10, 14]] = mask
    editable = infill == mask
    editable[:, [4, 6, 11, 12, 15]] = True
    yield 'infill', lm, dict(infill=infill, length=16)
    yield 'repair', lm, dict(infill=infill, editable=editable, length=16)
    if budget == 8:
        yield 'nucleus', lm, dict(prompt_ids=prompt, length=16, top_p=0.5, temperature=0.7)
        yield 'greedy', lm, dict(prompt_ids=prompt, length=16, greedy=True)
        yield 'window', ModelWindow(lm), dict(prompt_ids=prompt, length=16)
    if budget == 16:
        yield 'eos', lm, dict(prompt_ids=prompt, length=24, eos_id=3)
        yield 'steps', lm, dict(prompt_ids=prompt, length=16, steps=2)


def run_case(model, name: str, budget: int, kw: dict) -> dict:
    from ardm_nb.samplers import sample
    torch.manual_seed(0)  # a fresh gate's initial weights come from the global generator
    try:
        r = sample(model, sampler=name, nfe_budget=budget, generator=torch.Generator().manual_seed(budget), **kw)
    except (ValueError, RuntimeError) as e:
        return dict(error=f'{type(e).__name__}: {e}')
    return dict(tokens=r.tokens.tolist(), nfe=r.nfe, steps=r.steps, stopped_early=r.stopped_early,
                edits_per_step=r.edits_per_step)


def record() -> dict:
    from ardm_nb.samplers import SAMPLERS
    torch.set_num_threads(1)
    models = load_models()
    out = {}
    for name in SAMPLERS:
        for budget in BUDGETS:
            for case, model, kw in cases(name, budget, models):
                out[f'{name}/{case}/{budget}'] = run_case(model, name, budget, kw)
    return out


def record_eval() -> list:
    "The rows of a small oracle `ardm eval` on markov-words, timings left out."
    from ardm_nb.eval import EvalConfig, evaluate
    torch.set_num_threads(1)
    cfg = EvalConfig(task='markov-words', nfe_budgets=(4, 8), seeds=2, rows=4, modes=('generate', 'repair'))
    rows = evaluate(cfg, None, progress=False)
    for r in rows:
        r['metrics'] = {k: v for k, v in r['metrics'].items() if k not in TIMINGS}
    return json.loads(json.dumps(rows))  # as stored: tuples become lists, NaN stays NaN


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help='compare with the recorded fixture instead of writing it')
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if not (GOLDEN / 'model' / 'ar.pt').exists():
        build_models()
    got = record()
    rows = record_eval()
    if args.check:
        want = json.loads(FIXTURE.read_text())
        bad = [k for k in sorted(set(want) | set(got)) if want.get(k) != got.get(k)]
        for k in bad[:20]:
            print(f'DIFFERS {k}:\n  want {want.get(k)}\n  got  {got.get(k)}')
        bad_rows = [i for i, (a, b) in enumerate(zip(eval_rows(), rows)) if not same_row(a, b)]
        bad_rows += ['count'] if len(eval_rows()) != len(rows) else []
        print(f'{len(got)} runs, {len(bad)} differ; {len(rows)} eval rows, {len(bad_rows)} differ')
        return 1 if bad or bad_rows else 0
    FIXTURE.write_text(json.dumps(got, indent=0, sort_keys=True) + '\n')
    EVAL_FIXTURE.write_text(json.dumps(rows, indent=0, sort_keys=True) + '\n')
    print(f'recorded {len(got)} runs to {FIXTURE.relative_to(ROOT)}, {len(rows)} eval rows to '
          f'{EVAL_FIXTURE.relative_to(ROOT)}')
    return 0


def eval_rows() -> list:
    "The recorded eval rows."
    return json.loads(EVAL_FIXTURE.read_text())


def same_row(a: dict, b: dict) -> bool:
    "Equal rows, NaN equal to NaN (a metric undefined for the run)."
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


if __name__ == '__main__':
    sys.exit(main())
