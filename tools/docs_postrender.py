#!/usr/bin/env python3
"""Post-render step of the docs site (`project: post-render:` in _quarto.yml), for real Quarto and
the offline smalldocs build alike. Run in the rendered project (nbdev's `_proc/`) with Quarto's
QUARTO_PROJECT_OUTPUT_DIR; it repairs, in the built pages, what nbdev and the renderers leave
behind:

- nbdev's doclinks turn `name` into a Markdown link even inside a signature's code block, where it
  shows as raw `[`name`](url)`: such text in a <pre> becomes a real link;
- links to the site's own address (nbdev writes https://<doc_host><doc_baseurl>/page.html#anchor)
  become relative, so the site works offline and from any host;
- a link to an anchor that no page has (nbdev indexes every method and private name, e.g.
  `Cls.forward`, `_Helper`, but only documented ones get a section) goes to the nearest documented
  parent (`Cls`), else loses its link;
- a heading with maths keeps it in the table of contents (renderers copy only the heading's plain
  text there);
- every figure stored in a notebook as a data: URI is written out as a PNG/JPEG/GIF/SVG file beside
  its page and its <img> links to that file, so a reader can open it at full size; an image with no
  alt text takes its figure's caption (`#| fig-cap:`); the cell option `#| fig-alt:` is the way for
  a notebook author to give one;
- the search index (search.json) holds plain text: TeX becomes Unicode text and Markdown links their
  names.

Needs beautifulsoup4 (in the dev install) and PyYAML (a dependency of nbdev)."""

import base64, hashlib, json, os, posixpath, re, sys
from pathlib import Path
from urllib.parse import urlsplit, unquote

from bs4 import BeautifulSoup, NavigableString

MD_LINK = re.compile(r"\[`([^`\]]+)`\]\(([^)\s]+)\)")
DATA_URI = re.compile(r"data:image/(png|jpeg|gif|svg\+xml);base64,(.*)", re.S)


def site_url(project: Path) -> str:
    """The site's own address from nbdev's nbdev.yml (website.site-url), without a trailing
    slash; empty when unknown."""
    import yaml

    for name in ("nbdev.yml", "_quarto.yml"):
        f = project / name
        if f.exists():
            url = ((yaml.safe_load(f.read_text(encoding="utf-8")) or {}).get("website") or {}).get(
                "site-url"
            )
            if url:
                return str(url).rstrip("/")
    return ""


# ---------------------------------------------------------------------------------------------- TeX
# as plain text
# TeX command -> text, as name/glyph pairs (the spacing commands, which become a space, are added
# below)
_PAIRS = """
alpha α beta β gamma γ delta δ epsilon ε varepsilon ε zeta ζ eta η theta θ iota ι kappa κ
lambda λ mu μ nu ν xi ξ pi π rho ρ sigma σ tau τ upsilon υ phi φ varphi φ chi χ psi ψ omega ω
Gamma Γ Delta Δ Theta Θ Lambda Λ Xi Ξ Pi Π Sigma Σ Phi Φ Psi Ψ Omega Ω le ≤ leq ≤ ge ≥ geq ≥
ne ≠ neq ≠ approx ≈ sim ~ times × cdot · cdots ⋯ ldots … dots … in ∈ notin ∉ subset ⊂ subseteq ⊆
cup ∪ cap ∩ infty ∞ to → rightarrow → leftarrow ← mapsto ↦ Rightarrow ⇒ sum Σ prod Π partial ∂
nabla ∇ pm ± mid | lvert | rvert | vert | lVert ‖ rVert ‖ | ‖ langle ⟨ rangle ⟩ lfloor ⌊
rfloor ⌋ lceil ⌈ rceil ⌉ forall ∀ exists ∃ neg ¬ land ∧ lor ∨ oplus ⊕ otimes ⊗ circ ∘ ell ℓ
propto ∝ equiv ≡ emptyset ∅ setminus ∖ top ⊤ star ⋆ prime ′ log log ln ln exp exp max max
min min arg arg sup sup inf inf lim lim sin sin cos cos tanh tanh Pr Pr det det { { } } _ _ % %
# # & & $ $
"""
SYMBOLS = dict(zip(_PAIRS.split()[::2], _PAIRS.split()[1::2]))
SYMBOLS.update({'quad': ' ', 'qquad': ' ', ',': ' ', ';': ' ', ':': ' ', '!': '', ' ': ' '})
SPACING = re.compile(
    r"\\(?:left|right|big|Big|bigg|Bigg|bigl|bigr|Bigl|Bigr|biggl|biggr"
    r"|displaystyle|textstyle|nolimits|limits)(?![a-zA-Z])"
)
WRAPS = re.compile(
    r"\\(?:mathrm|mathbf|mathit|mathsf|mathtt|mathcal|mathbb|boldsymbol|text|textrm|textbf|textit"
    r"|operatorname|hat|bar|tilde|widetilde|vec|overline|underline)\s*\{([^{}]*)\}"
)
FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
SQRT = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
COMMAND = re.compile(r"\\([a-zA-Z]+|[^a-zA-Z])")


def group(s: str) -> str:
    """A fraction's numerator or denominator, in parentheses when it is more than one symbol:
    (n-1+δ)/n."""
    s = s.strip()
    return s if re.fullmatch(r"\\?\w+", s) else f"({s})"


def tex_to_text(tex: str) -> str:
    """A TeX formula as readable Unicode text: \\lambda -> λ, \\frac{a}{b} -> a/b, \\mathrm{x} ->
    x, braces dropped."""
    s = SPACING.sub("", tex)
    for _ in range(4):  # nested \frac{\mathrm{a}}{b}: work from the inside out
        s = WRAPS.sub(r"\1", s)
        s = FRAC.sub(lambda m: f"{group(m.group(1))}/{group(m.group(2))}", s)
        s = SQRT.sub(r"√(\1)", s)
    s = COMMAND.sub(lambda m: SYMBOLS.get(m.group(1), m.group(1)), s)
    s = re.sub(r"(?<!\\)[{}]", "", s)
    return re.sub(r"\s+", " ", s).strip()


def plain_text(text: str) -> str:
    """Search-index text without TeX delimiters or TeX commands, and with Markdown links as their
    names."""
    text = MD_LINK.sub(r"\1", text)
    text = re.sub(
        r"\\\((.*?)\\\)|\\\[(.*?)\\\]|\$\$(.*?)\$\$",
        lambda m: tex_to_text(next(g for g in m.groups() if g is not None)),
        text,
        flags=re.S,
    )
    if re.search(
        r"(?<!\\)\\[a-zA-Z]+|[_^]\{", text
    ):  # TeX without delimiters (smalldocs strips them)
        text = bare_tex_to_text(text)
    return text


def bare_tex_to_text(text: str) -> str:
    """TeX commands in text that also holds code (a search entry of an API section): only the TeX
    is rewritten, so the braces of code stay and an escaped backslash in a Python string
    (`'\\\\mid'`) is left alone."""
    s = SPACING.sub("", text)
    for _ in range(4):
        s = WRAPS.sub(r"\1", s)
        s = FRAC.sub(lambda m: f"{group(m.group(1))}/{group(m.group(2))}", s)
        s = SQRT.sub(r"√(\1)", s)
    s = re.sub(r"([_^])\{([^{}]*)\}", r"\1\2", s)  # x_{i} -> x_i, z^{(t)} -> z^(t)
    s = re.sub(r"(?<!\\)\\([a-zA-Z]+|[,;:! ])", lambda m: SYMBOLS.get(m.group(1), m.group(1)), s)
    return s


# ----------------------------------------------------------------------------------------------
# pages
class Site:
    def __init__(self, out: Path, url: str):
        self.out, self.url = out, url
        self.pages = {p.relative_to(out).as_posix(): p for p in sorted(out.rglob("*.html"))}
        self.soups = {
            name: BeautifulSoup(p.read_text(encoding="utf-8"), "html.parser")
            for name, p in self.pages.items()
        }
        self.ids = {name: {t["id"] for t in s.find_all(id=True)} for name, s in self.soups.items()}
        self.fixed = {
            "signature links": 0,
            "absolute links made relative": 0,
            "anchors to a parent": 0,
            "links to nowhere unlinked": 0,
            "TOC entries with maths": 0,
            "figures written out": 0,
            "alt text from captions": 0,
        }
        self.notes = []  # what became of each link to a missing anchor, printed after the counts

    def signature_links(self, soup):
        """Raw `[`name`](url)` text inside <pre> blocks (nbdev's links in docments comments)
        becomes a real link."""
        for pre in soup.find_all("pre"):
            for s in list(pre.find_all(string=MD_LINK)):
                parts, last = [], 0
                for m in MD_LINK.finditer(s):
                    parts.append(NavigableString(s[last : m.start()]))
                    a = soup.new_tag("a", href=m.group(2))
                    a.string = m.group(1)
                    parts.append(a)
                    last = m.end()
                    self.fixed["signature links"] += 1
                parts.append(NavigableString(s[last:]))
                for p in parts:
                    s.insert_before(p)
                s.extract()

    def relative(self, name: str, href: str) -> str | None:
        "The target of a link to this site, relative to page `name`; None for other hosts."
        if self.url and (href == self.url or href.startswith(self.url + "/")):
            target = href[len(self.url) + 1 :] or "index.html"
            rel = posixpath.relpath(
                urlsplit("/" + target).path.lstrip("/") or "index.html",
                posixpath.dirname(name) or ".",
            )
            frag = urlsplit(href).fragment
            self.fixed["absolute links made relative"] += 1
            return rel + (f"#{frag}" if frag else "")
        return None

    def anchors(self, name: str, a):
        """A link to an anchor its page lacks goes to the nearest documented parent (`Cls.method`
        -> `Cls`), else unlinks."""
        u = urlsplit(a["href"])
        if u.scheme or u.netloc or not u.fragment:
            return
        target = (
            posixpath.normpath(posixpath.join(posixpath.dirname(name), unquote(u.path)))
            if u.path
            else name
        )
        if target not in self.ids:
            return
        frag = unquote(u.fragment)
        if frag in self.ids[target]:
            return
        parts = frag.split(".")
        while len(parts) > 1:
            parts.pop()
            if ".".join(parts) in self.ids[target]:
                a["href"] = f"{u.path}#{'.'.join(parts)}"
                self.fixed["anchors to a parent"] += 1
                self.notes.append(
                    f"{name}: #{frag} is not on {target}: the link goes to #{'.'.join(parts)}"
                )
                return
        a.unwrap()
        self.fixed["links to nowhere unlinked"] += 1
        self.notes.append(
            f"{name}: #{frag} is not on {target} (an undocumented name): shown without a link"
        )

    def toc_maths(self, soup):
        """A TOC entry whose heading holds maths shows the maths (KaTeX renders it there as in
        the heading)."""
        for a in soup.select("#TOC a.nav-link[href^='#']"):
            target = soup.find(id=a["href"][1:])
            if target is None:
                continue
            heading = (
                target
                if re.fullmatch(r"h[1-6]", target.name or "")
                else target.find(re.compile(r"h[1-6]"))
            )
            if heading is None or not heading.select(".math"):
                continue
            a.clear()
            for child in heading.children:
                if getattr(child, "name", None) == "a" and "anchorjs-link" in (
                    child.get("class") or []
                ):
                    continue
                a.append(BeautifulSoup(str(child), "html.parser"))
            self.fixed["TOC entries with maths"] += 1

    def figures(self, name: str, soup):
        """Write data: URI figures out as files beside the page, link each to its full size, fill
        alt from captions."""
        page = self.pages[name]
        for img in soup.select("main img"):
            fig = img.find_parent("figure")
            cap = fig.find("figcaption") if fig else None
            if not (img.get("alt") or "").strip() and cap is not None and cap.get_text(strip=True):
                img["alt"] = cap.get_text(" ", strip=True)
                self.fixed["alt text from captions"] += 1
            m = DATA_URI.fullmatch(img.get("src", ""))
            if m:
                data = base64.b64decode(m.group(2))
                ext = {"jpeg": "jpg", "svg+xml": "svg"}.get(m.group(1), m.group(1))
                folder = page.parent / f"{page.stem}_files" / "figure-html"
                folder.mkdir(parents=True, exist_ok=True)
                f = folder / f"fig-{hashlib.sha1(data).hexdigest()[:12]}.{ext}"
                f.write_bytes(data)
                img["src"] = f.relative_to(page.parent).as_posix()
                self.fixed["figures written out"] += 1
            if img.find_parent("a") is None:
                link = soup.new_tag(
                    "a",
                    href=img["src"],
                    **{"class": "ardm-zoom", "title": "Open the figure at full size"},
                )
                img.wrap(link)

    def run(self):
        for name, soup in self.soups.items():
            self.signature_links(soup)
            for a in soup.find_all("a", href=True):
                rel = self.relative(name, a["href"])
                if rel is not None:
                    a["href"] = rel
                    a.attrs.pop("target", None)
        for name, soup in self.soups.items():
            for a in soup.find_all("a", href=True):
                self.anchors(name, a)
            self.toc_maths(soup)
            self.figures(name, soup)
            self.pages[name].write_text(str(soup), encoding="utf-8")
        index = self.out / "search.json"
        if index.exists():
            entries = json.loads(index.read_text(encoding="utf-8"))
            for e in entries:
                for k in ("title", "section", "text"):
                    if isinstance(e.get(k), str):
                        e[k] = plain_text(e[k])
            index.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
        return self.fixed


def main():
    project = Path.cwd()
    out = project / os.environ.get("QUARTO_PROJECT_OUTPUT_DIR", "_docs")
    if not out.is_dir():
        sys.exit(f"docs post-render: no output folder {out}")
    site = Site(out, site_url(project))
    fixed = site.run()
    print("docs post-render: " + ", ".join(f"{k} {v}" for k, v in fixed.items()), file=sys.stderr)
    for note in site.notes:
        print(f"docs post-render: {note}", file=sys.stderr)


if __name__ == "__main__":
    main()
