"""Project layout: experiments are excluded from nbdev_test, the package matches the notebooks, the CLI fails cleanly."""
import subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_experiments_are_excluded_from_nbdev_test():
    exp = sorted((ROOT / 'nbs' / 'experiments').glob('*.ipynb'))
    assert exp, 'nbs/experiments should hold at least one experiment notebook'
    assert (ROOT / 'nbs' / 'experiments' / '.notest').exists()
    # nbdev_test on the folder alone finds nothing to run; on the whole book it runs the chapters but no experiment
    out = subprocess.run([BIN / 'nbdev_test', '--path', 'nbs/experiments', '--do_print'], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and 'No files were eligible for testing' in out.stdout, out.stdout + out.stderr
    from nbdev.test import _keep_file
    from nbdev.doclinks import nbglob
    from fastcore.xtras import working_directory
    with working_directory(ROOT):
        kept = [f for f in nbglob('nbs', as_path=True) if _keep_file(f, '.notest')]
    names = {f.name for f in kept}
    assert {'10_signals.ipynb', '40_acceptance.ipynb'} <= names
    assert not any(f.parent.name == 'experiments' for f in kept)


def test_bench_cli_unknown_name_lists_choices():
    out = subprocess.run([sys.executable, '-m', 'ardm_nb.bench', 'no_such_benchmark'], capture_output=True, text=True)
    assert out.returncode == 2
    assert 'signals_vs_log_softmax_ratio' in out.stderr and 'Traceback' not in out.stderr


def test_ardm_demo_writes_figure(tmp_path):
    out = subprocess.run([BIN / 'ardm', 'demo', '--out', str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    fig = tmp_path / 'gate_walkthrough.png'
    assert fig.exists() and fig.stat().st_size > 10_000
    assert str(fig.resolve()) in out.stdout  # the demo says where the figure is


def _chapters() -> dict:
    "module name -> the number of the notebook that exports it (`#| default_exp`)."
    import json, re
    out = {}
    for nb in (ROOT / 'nbs').glob('[0-9]*.ipynb'):
        for c in json.loads(nb.read_text())['cells']:
            m = re.match(r'#\|\s*default_exp\s+(\S+)', ''.join(c['source']))
            if m: out[m.group(1)] = int(nb.name.split('_')[0])
    return out


def _imports(module: str) -> list:
    "(imported package module, line) of every import in ardm_nb/<module>.py, at the top or inside a function."
    import ast
    tree = ast.parse((ROOT / 'ardm_nb' / f"{module.replace('.', '/')}.py").read_text())
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module:
            if n.level:  # relative: from .x (a sibling) or from ..x (the package, from a subpackage)
                name = n.module.split('.')[0]
            else:
                name = n.module.split('.')[1] if n.module.startswith('ardm_nb.') else None
            if name: out.append((name, n.lineno))
    return out


def test_modules_import_only_earlier_chapters():
    "The numbering of nbs/ is the architecture: a module imports only modules of lower-numbered notebooks."
    chapter = _chapters()
    assert {'task', 'tasks', 'eval', 'report', 'samplers', 'engine'} <= set(chapter)
    upward = [(m, chapter[m], dep, chapter[dep], line) for m in chapter for dep, line in _imports(m)
              if dep in chapter and chapter[dep] > chapter[m]]
    assert not upward, f'imports of later chapters (module, its chapter, imported, its chapter, line): {upward}'


def test_no_module_over_700_lines_no_function_over_80():
    import ast
    long = []
    for f in sorted((ROOT / 'ardm_nb').glob('*.py')):
        if f.name == '_modidx.py': continue
        text = f.read_text()
        if len(text.splitlines()) > 700: long.append((f.name, len(text.splitlines())))
        for n in ast.walk(ast.parse(text)):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno >= 80:
                long.append((f'{f.name}:{n.name}', n.end_lineno - n.lineno + 1))
    assert not long, f'too long (module lines > 700, function lines > 80): {long}'
