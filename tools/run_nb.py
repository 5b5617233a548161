"""Execute notebooks in place so that their stored outputs (what the docs show) match the code.

Usage (from the repository root): `.venv/bin/python tools/run_nb.py nbs/30_gate.ipynb [more.ipynb ...]`
Every code output is cleared first (a cell that now prints nothing keeps no stale output), cells marked
`#| eval: false` are skipped as nbdev_test skips them, each notebook runs from its own folder with one torch
thread, and `nbdev_clean` tidies the metadata afterwards.
"""
import json, os, re, subprocess, sys
from pathlib import Path

def _skip(cell) -> bool:
    "True for a code cell marked `#| eval: false`."
    return cell.cell_type == 'code' and re.search(r'^#\|\s*eval:\s*false', cell.source, re.M) is not None

def clear_outputs(path: Path):
    "Drop every stored output and execution count of the notebook at `path`."
    nb = json.loads(path.read_text())
    for c in nb['cells']:
        if c['cell_type'] == 'code':
            c['outputs'], c['execution_count'] = [], None
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')

def run(path: Path):
    "Execute `path` in place from its own folder; stop at the first error."
    from execnb.shell import CaptureShell
    here = Path.cwd()
    os.chdir(path.parent)
    try: CaptureShell().execute(path.name, path.name, exc_stop=True, preproc=_skip)
    finally: os.chdir(here)

if __name__ == '__main__':
    for k, v in dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', HF_HUB_OFFLINE='1',
                     HF_DATASETS_OFFLINE='1', MPLBACKEND='Agg').items():
        os.environ.setdefault(k, v)
    bindir = Path(sys.executable).parent
    for arg in sys.argv[1:]:
        p = Path(arg).resolve()
        clear_outputs(p)
        run(p)
        subprocess.run([str(bindir / 'nbdev_clean'), '--fname', str(p)], check=True)
        print(f'executed {arg}')
