"""`ardm report --check` on the repository itself: every rendered block of the README and the notebooks agrees with
the committed rows under nbs/_results, and a number typed over in the README is caught, named by its block."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ardm_nb.results import report_command

ROOT = Path(__file__).resolve().parents[1]


def test_report_check_passes_on_the_repository():
    r = subprocess.run([sys.executable, '-m', 'ardm_nb.cli', 'report', '--check', '--root', str(ROOT)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'agrees with its rows' in r.stdout
    assert '<!-- render: study_summary -->' in (ROOT / 'README.md').read_text()


def _copy_repo(tmp: Path) -> Path:
    (tmp / 'nbs').mkdir()
    shutil.copy(ROOT / 'README.md', tmp / 'README.md')
    shutil.copy(ROOT / 'nbs' / 'index.ipynb', tmp / 'nbs' / 'index.ipynb')
    shutil.copytree(ROOT / 'nbs' / '_results', tmp / 'nbs' / '_results')
    return tmp


def test_a_changed_readme_number_fails_the_check(tmp_path):
    repo = _copy_repo(tmp_path)
    report_command(repo, check=True, log=lambda *a: None)  # the copy agrees
    text = (repo / 'README.md').read_text()
    block = text[text.index('<!-- render: study_summary -->'):]
    number = re.search(r'test NELBO ([+-][0-9.]+)% above', block).group(1)  # language A's worst gap, in a sentence
    typed = f'{float(number) + 0.1:+.1f}'
    old, new = f'test NELBO {number}% above', f'test NELBO {typed}% above'
    (repo / 'README.md').write_text(text.replace(old, new, 1))
    with pytest.raises(ValueError, match=rf"README\.md, block 'study_summary'.*{re.escape(number)}.*{re.escape(typed)}"):
        report_command(repo, check=True)
    r = subprocess.run([sys.executable, '-m', 'ardm_nb.cli', 'report', '--check', '--root', str(repo)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "README.md, block 'study_summary'" in r.stderr and 'Traceback' not in r.stderr
    report_command(repo, log=lambda *a: None)  # rewriting restores the rows' number
    assert old in (repo / 'README.md').read_text()


def test_report_outside_a_repository_is_refused(tmp_path):
    with pytest.raises(ValueError, match='not the repository root'):
        report_command(tmp_path, check=True)
