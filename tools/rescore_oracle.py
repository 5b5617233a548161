"""Recompute the oracle fields (oracle_nelbo, oracle_floor, oracle_gap) of finished `ardm train` runs on a task with an
exact oracle, with the package's current code, and write them into each run's results.json: what `finish_run` would
write now, without training again. Used when the oracle's evaluation changed (e.g. `nelbo_window` for L' = 1).

    python tools/rescore_oracle.py out/study2/mwAR_s0 out/study2/mwAR_s1 ...
"""
import json, sys
from pathlib import Path
from ardm_nb.block_diffusion import nelbo_window
from ardm_nb.core import atomic_write
from ardm_nb.run import run_config, task_run_data
from ardm_nb.train import oracle_fields

for folder in map(Path, sys.argv[1:]):
    cfg, res_file = run_config(folder), folder / 'results.json'
    if cfg is None or not res_file.exists():
        sys.exit(f"{folder}: not a finished `ardm train` run (no config.json or results.json)")
    res = json.loads(res_file.read_text())
    if res['test'].get('exact') != nelbo_window(cfg.block_size, cfg.noise_config)[2]:
        # the model's NELBO was measured in another window than the oracle's would be now: a gap would mean nothing
        sys.exit(f"{folder}: its test NELBO was measured in an older evaluation window; train it again (or re-score "
                 "the model too) instead")
    new = oracle_fields(cfg, task_run_data(cfg).test, res['test']['nelbo'])
    old = {k: res['test'].get(k) for k in new}
    res['test'].update(new)
    atomic_write(res_file, json.dumps(res, indent=1))
    print(f"{folder}: {old} -> {new}")
