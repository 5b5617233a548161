#!/usr/bin/env python3
"""Open the built docs site (_docs/) in headless Chromium as a reader would: lay out each page at
1280x900, let its scripts (KaTeX) run, and bring back what tools/site_probe.js measured; or take a
screenshot.

  python tools/browse.py [PAGE.html ...]       the probe's summary per page (default: all pages)
  python tools/browse.py --shot PAGE.html OUT.png

Chromium: Debian's `chromium` package (`apt-get install -y chromium`), or $CHROMIUM. The pages are
measured in a copy of the site with the probe script added; the site itself is not changed."""

import json, os, re, shutil, subprocess, sys, tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_docs"
PROBE = Path(__file__).resolve().parent / "site_probe.js"
WINDOW = "1280,900"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",
    f"--window-size={WINDOW}",
    "--virtual-time-budget=8000",
]
RESULT = re.compile(r'<script type="application/json" id="ardm-probe">(.*?)</script>', re.S)


def chromium() -> str:
    "The Chromium executable: $CHROMIUM, else `chromium` or `chromium-browser` on PATH."
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise FileNotFoundError("no Chromium found: apt-get install -y chromium (or set CHROMIUM)")


def _run(args: list, timeout: int = 120) -> str:
    "Run Chromium with a fresh profile; return its stdout."
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if r.returncode:
        raise RuntimeError(f"chromium exited {r.returncode}: {r.stderr[-500:]}")
    return r.stdout


def screenshot(page: Path, out: Path) -> Path:
    "A 1280x900 screenshot of a page (after its scripts ran)."
    _run([f"--screenshot={out}", page.resolve().as_uri()])
    return out


def probe_copy(site: Path = SITE) -> Path:
    "A temporary copy of the site in which every page loads tools/site_probe.js last."
    tmp = Path(tempfile.mkdtemp(prefix="ardm-site-"))
    shutil.copytree(site, tmp / "site")
    shutil.copy(PROBE, tmp / "site" / "ardm-probe.js")
    for page in (tmp / "site").rglob("*.html"):
        depth = len(page.relative_to(tmp / "site").parts) - 1
        tag = f'<script src="{"../" * depth}ardm-probe.js"></script>'
        text = page.read_text(encoding="utf-8")
        text = text.replace("</body>", tag + "</body>") if "</body>" in text else text + tag
        page.write_text(text, encoding="utf-8")
    return tmp / "site"


def probe(page: Path) -> dict:
    "Open one page of a probe copy and return the probe's measurements."
    dom = _run(["--dump-dom", page.resolve().as_uri()])
    m = RESULT.search(dom)
    if not m:
        raise RuntimeError(
            f"{page.name}: the probe wrote no result (the page's scripts may have failed)"
        )
    return json.loads(m.group(1))


def probe_site(site: Path = SITE, pages: list | None = None, workers: int = 2) -> dict:
    """Measure every page of the site (or the named ones, relative to the site): {relative path:
    probe result}."""
    copy = probe_copy(site)
    try:
        names = pages or sorted(str(p.relative_to(copy)) for p in copy.rglob("*.html"))
        with ThreadPoolExecutor(workers) as ex:
            return dict(zip(names, ex.map(lambda n: probe(copy / n), names)))
    finally:
        shutil.rmtree(copy.parent, ignore_errors=True)


def overflow(res: dict, kind: str | None = None) -> tuple:
    "(wide lines, lines) over a page's <pre> boxes, of one kind ('code' or 'output') or all."
    boxes = [b for b in res["code"] if kind in (None, b["kind"])]
    return sum(b["wide"] for b in boxes), sum(b["lines"] for b in boxes)


def main(args):
    if args[:1] == ["--shot"]:
        return print(screenshot(SITE / args[1], Path(args[2])))
    results = probe_site(SITE, args or None)
    tw = tl = 0
    for name, r in results.items():
        w, n = overflow(r)
        tw, tl = tw + w, tl + n
        m = r["maths"]
        scroll = sum(d["scrollX"] for d in m["displays"])
        clip = sum(d["clipY"] for d in m["displays"])
        print(
            f"{name:36s} column {r['column']:4d}px  code lines wider than their box {w:4d}/{n:<4d} "
            f"({w / max(n, 1):5.1%})  images {len(r['images'])}  "
            f"equations {m['display']}+{m['inline']}  displays scrolling {scroll} clipped {clip}"
        )
    print(f"{'all pages':36s} code lines wider than their box {tw}/{tl} ({tw / max(tl, 1):.1%})")


if __name__ == "__main__":
    main(sys.argv[1:])
