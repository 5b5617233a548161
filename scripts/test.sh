#!/usr/bin/env bash
# The whole test suite: every notebook (nbdev_test; nbs/experiments is skipped by its .notest file), then tests/.
# Extra arguments go to pytest (e.g. -k signals); only then may pytest collect nothing (exit code 5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 MPLBACKEND=Agg
.venv/bin/nbdev_test --n_workers 2 --timing
set +e
.venv/bin/python -m pytest -q tests --ignore=tests/test_docs_site.py "$@"  # that one needs the built site: scripts/docs.sh
rc=$?
set -e
if [ "$rc" -eq 5 ] && [ "$#" -gt 0 ]; then
  echo "pytest: the selection '$*' collected no tests (exit 5 accepted for a subset)"
  exit 0
fi
exit "$rc"
