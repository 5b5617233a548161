"""The built docs site, as a reader's browser shows it: every page of _docs/ opened in headless
Chromium at 1280x900 (after KaTeX ran), its DOM measured by tools/site_probe.js. Run by
scripts/docs.sh after it built the site (it needs _docs/ and Debian's `chromium`), not by
scripts/test.sh. Prints per page the share of code lines wider than their box; keeps a screenshot of
the landing page in _docs/landing.png."""

import html, json, re, struct, sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE, NBS = ROOT / "_docs", ROOT / "nbs"
sys.path.insert(0, str(ROOT / "tools"))
import browse  # noqa: E402  (tools/browse.py: Chromium runner and probe)

OVERFLOW_TARGET = 0.05  # at most 5% of the lines in <pre> boxes may need horizontal scrolling
RAW_TEX = [
    re.compile(r"\\[()\[\]]"),  # \( \) \[ \] left by a renderer
    re.compile(
        r"\$\$|\$[^$\n]{1,200}\$"
    ),  # $...$ that was not turned into maths (e.g. a space before the closing $)
    re.compile(r"\\[a-zA-Z]{2,}"),  # a TeX command as text (\lambda in a table of contents)
    re.compile(r"[_^]\{"),  # sub- or superscript braces
]


def notebook_of(page: str) -> str:
    """The notebook a page is built from (nbdev's naming: 81_samplers.ipynb -> samplers.html),
    for the printout."""
    from nbdev.doclinks import _nbpath2html

    for nb in NBS.rglob("*.ipynb"):
        if str(_nbpath2html(nb.relative_to(NBS))) == page:
            return str(nb.relative_to(ROOT))
    return "?"


@pytest.fixture(scope="module")
def pages():
    "Every page's probe result, keyed by its path in the site."
    assert SITE.is_dir(), f"{SITE} does not exist: build the site first (scripts/docs.sh)"
    res = browse.probe_site(SITE)
    assert res, "the site has no pages"
    return res


def test_titles(pages):
    "Every page has a title: its own heading, then the site's name."
    bad = [
        f"{name}: title {r['title']!r}, heading {r['h1']!r}"
        for name, r in pages.items()
        if not r["title"].strip() or (r["h1"] and not r["title"].startswith(r["h1"]))
    ]
    assert not bad, "pages without a proper title:\n" + "\n".join(bad)


def test_no_raw_tex(pages):
    """No TeX source shows as text: not in the page, the table of contents or the sidebar (code
    blocks excepted)."""
    bad = []
    for name, r in pages.items():
        for where, text in r["text"]:
            for rx in RAW_TEX:
                m = rx.search(text)
                if m:
                    bad.append(
                        f"{name} ({where}): ...{text[max(0, m.start() - 40):m.end() + 40]!r}..."
                    )
                    break
    assert not bad, f"{len(bad)} text(s) with raw TeX:\n" + "\n".join(bad[:40])


def test_search_index_is_plain_text():
    """The search index holds text a reader can read in a result: no TeX delimiters or commands,
    no Markdown links."""
    entries = json.loads((SITE / "search.json").read_text(encoding="utf-8"))
    rx = re.compile(
        r"\\[()\[\]]|(?<!\\)\\[a-zA-Z]{2,}|\[`[^`\]]+`\]\("
    )  # \\mid: code's escaped backslash
    bad = [
        f"{e.get('href')} ({k}): ...{e[k][max(0, m.start() - 40):m.end() + 40]!r}..."
        for e in entries
        for k in ("title", "section", "text")
        if isinstance(e.get(k), str)
        for m in [rx.search(e[k])]
        if m
    ]
    assert entries, "the search index is empty"
    assert not bad, f"{len(bad)} search entries with raw TeX or Markdown:\n" + "\n".join(bad[:30])


def test_no_raw_markdown_links():
    """No page shows Markdown link syntax as text (nbdev writes [`name`](url) into signatures'
    code blocks)."""
    rx = re.compile(r"\[`[^`\]]+`\]\((?:https?:)?[^)\s]*\)")
    bad = [
        f"{f.relative_to(SITE)}: {m.group(0)[:100]}"
        for f in sorted(SITE.rglob("*.html"))
        for m in [rx.search(html.unescape(re.sub(r"<[^>]+>", "", f.read_text(encoding="utf-8"))))]
        if m
    ]
    assert not bad, "raw Markdown links on pages:\n" + "\n".join(bad)


def test_maths_rendered(pages):
    "KaTeX rendered every equation without an error."
    bad = [
        f"{name}: {r['maths']['errors']} KaTeX error(s)"
        for name, r in pages.items()
        if r["maths"]["errors"]
    ]
    assert not bad, "\n".join(bad)
    assert (
        sum(r["maths"]["display"] + r["maths"]["inline"] for r in pages.values()) > 0
    ), "no equation rendered at all"


def test_images_load_with_alt_text(pages):
    """Every image loaded (a natural size) and has alt text; every figure in a page links to its
    full-size file."""
    failed, no_alt, no_zoom, n = [], [], [], 0
    for name, r in pages.items():
        for i, img in enumerate(r["images"]):
            n += 1
            where = f"{name} image {i + 1} of {len(r['images'])} ({notebook_of(name)})"
            if not img["complete"] or img["natural"][0] == 0:
                failed.append(where)
            if not (img["alt"] or "").strip():
                no_alt.append(where)
            if img["inMain"] and not img["zoom"]:
                no_zoom.append(where)
    print(
        f"\nimages: {n}, not loaded {len(failed)}, without alt text {len(no_alt)}, "
        f"not linked to full size {len(no_zoom)}"
    )
    for w in no_alt:
        print(f"  no alt text: {w}")
    assert not failed, "images that did not load:\n" + "\n".join(failed)
    assert not no_zoom, "figures not linked to their full size:\n" + "\n".join(no_zoom)
    assert not no_alt, (
        f"{len(no_alt)} image(s) without alt text (add `#| fig-alt: ...` to the notebook cell):\n"
        + "\n".join(no_alt)
    )


def site_url() -> str:
    """The docs site's own address (settings.ini: doc_host + doc_baseurl), which nbdev writes
    into its links."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "settings.ini")
    return (cfg["DEFAULT"].get("doc_host", "") + cfg["DEFAULT"].get("doc_baseurl", "")).rstrip("/")


def _target(page: str, href: str):
    """The site page and anchor an internal link points to, or None for another host or a
    non-page link."""
    own = site_url()
    if own and href.startswith(own + "/"):  # a link to the site itself, written as a full address
        href = (
            "/".join([".."] * page.count("/") + [href[len(own) + 1 :]])
            if page.count("/")
            else href[len(own) + 1 :]
        )
    u = urlsplit(href)
    if u.scheme or u.netloc or href.startswith(("mailto:", "javascript:")):
        return None
    path = unquote(u.path)
    target = (Path(page).parent / path).as_posix() if path else page
    target = str(Path(re.sub(r"(^|/)\./", r"\1", target)))
    parts = []
    for p in target.split("/"):
        if p == "..":
            parts = parts[:-1]
        elif p not in ("", "."):
            parts.append(p)
    return "/".join(parts), unquote(u.fragment)


def test_internal_links_resolve(pages):
    "Every link inside the site reaches a file that exists, and an anchor that its page has."
    bad, n = [], 0
    for name, r in pages.items():
        for href in r["links"]:
            t = _target(name, href)
            if t is None or href == "#":
                continue
            n += 1
            target, frag = t
            if not (SITE / target).exists():
                bad.append(f"{name}: {href} -> missing file {target}")
            elif frag and target in pages and frag not in pages[target]["ids"]:
                bad.append(f"{name}: {href} -> no anchor #{frag} in {target}")
    print(f"\ninternal links checked: {n}, broken: {len(bad)}")
    assert n > 0
    assert not bad, f"{len(bad)} broken internal link(s):\n" + "\n".join(bad)


def test_no_external_assets(pages):
    "Scripts, styles, images and fonts all come from the site itself: no request to another host."
    bad = sorted(
        {
            f"{name}: {u}"
            for name, r in pages.items()
            for u in r["assets"]
            if not u.startswith("file:")
        }
    )
    assert not bad, "assets from another host:\n" + "\n".join(bad)


def test_no_display_equation_clipped(pages):
    "A display equation either fits its box or scrolls sideways; none is cut at the top or bottom."
    bad = [
        f"{name}: display {i + 1} ({d['width']} px in {d['box']} px)"
        for name, r in pages.items()
        for i, d in enumerate(r["maths"]["displays"])
        if d["clipY"]
    ]
    assert not bad, "display equations clipped:\n" + "\n".join(bad)


def test_code_lines_fit_their_box(pages):
    """At most 5% of the lines in code and output boxes are wider than the box (printed per page,
    widest first)."""
    rows, tw, tl = [], 0, 0
    for name, r in pages.items():
        w, n = browse.overflow(r)
        wc, nc = browse.overflow(r, "code")
        tw, tl = tw + w, tl + n
        rows.append((w / max(n, 1), name, w, n, wc, nc, r["column"]))
    print(
        f"\ncode lines wider than their box at 1280x900 (column {rows[0][6]} px), "
        "pages with the largest share first:"
    )
    for share, name, w, n, wc, nc, _ in sorted(rows, reverse=True):
        print(
            f"  {name:36s} {w:4d} / {n:<4d} = {share:6.1%}   "
            f"(code cells {wc}/{nc}, outputs {w - wc}/{n - nc})  {notebook_of(name)}"
        )
    total = f"{tw:4d} / {tl:<4d} = {tw / max(tl, 1):6.1%}"
    print(f"  {'all pages':36s} {total}   target <= {OVERFLOW_TARGET:.0%}")
    assert tl > 0
    assert tw / tl <= OVERFLOW_TARGET, (
        f"{tw} of {tl} code lines ({tw / tl:.1%}) are wider than their box; the target "
        f"is {OVERFLOW_TARGET:.0%}: split long lines in the notebooks listed above"
    )


def test_landing_page_screenshot():
    "A screenshot of the landing page at 1280x900 is kept in the build output (_docs/landing.png)."
    out = browse.screenshot(SITE / "index.html", SITE / "landing.png")
    head = out.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "landing.png is not a PNG"
    assert struct.unpack(">II", head[16:24]) == (1280, 900)
    print(f"\nlanding page screenshot: {out.relative_to(ROOT)}")
