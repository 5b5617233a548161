"""Recompute the oracle fields (oracle_nelbo, oracle_floor, oracle_gap) of finished `ardm train` runs on a task with an
exact oracle, with the package's current code, and write them into each run's results.json: what `finish_run` would
write now, without training again. Used when the oracle's evaluation changed (e.g. `nelbo_window` for L' = 1).

    python tools/rescore_oracle.py out/study2/mwAR_s0 out/study2/mwAR_s1 ...
"""
import json, sys
from pathlib import Path
from ardm_nb.core import atomic_write
from ardm_nb.run import run_config, task_run_data
from ardm_nb.train import oracle_fields

for folder in map(Path, sys.argv[1:]):
    cfg, res_file = run_config(folder), folder / 'results.json'
    res = json.loads(res_file.read_text())
    new = oracle_fields(cfg, task_run_data(cfg).test, res['test']['nelbo'])
    old = {k: res['test'].get(k) for k in new}
    res['test'].update(new)
    atomic_write(res_file, json.dumps(res, indent=1))
    print(f"{folder}: {old} -> {new}")
