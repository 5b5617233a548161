#!/usr/bin/env bash
# Build the documentation site into _docs/ with `nbdev_docs`, offline, and check it. Real Quarto cannot be installed
# here, so tools/quarto (a stand-in that hands nbdev's quarto calls to smalldocs, with KaTeX from npm served from the
# site) goes first on PATH. With real Quarto installed, plain `nbdev_docs` builds the same site from the same _quarto.yml.
# Needs Python >= 3.10, Node.js and npm (KaTeX is fetched once into .cache/; the check parses every equation with it),
# and Chromium (Debian's `chromium`; .ci/run installs it) for tests/test_docs_site.py, which opens every built page as a
# reader's browser does and keeps a screenshot of the landing page in _docs/landing.png.
# As always with nbdev, nbdev_docs also rewrites README.md from nbs/index.ipynb when the notebook is the newer file.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null && command -v node >/dev/null || { echo "docs.sh needs Node.js and npm: KaTeX comes from npm" >&2; exit 1; }
bash scripts/setup.sh
export PATH="$PWD/tools:$PWD/.venv/bin:$PATH"
start=$SECONDS
rm -rf _proc  # nbdev's processed-notebook cache: start clean so that removed or renamed notebooks leave no page
nbdev_docs
echo "nbdev_docs built _docs/ in $((SECONDS - start)) s"
python tools/check_docs.py
# the site in a browser: titles, rendered maths, images with alt text, links and anchors, no external asset, code width
python -m pytest -q -s -p no:cacheprovider tests/test_docs_site.py
