"""tools/docs_postrender.py, the docs site's post-render step, on a two-page site built by hand (no
renderer, no browser): each repair with the exact HTML it must produce."""

import base64, json, sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from docs_postrender import Site, plain_text, tex_to_text  # noqa: E402

URL = "https://example.org/proj"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()  # bytes stand in for a picture


@pytest.mark.parametrize(
    "tex,text",
    [
        (r"\lambda > 1", "λ > 1"),
        (r"\tau_{\mathrm{logit}}", "τ_logit"),
        (r"\frac{T}{n}(i + \delta)", "T/n(i + δ)"),
        (r"T\frac{n-1+\delta}{n}", "T(n-1+δ)/n"),
        (r"q(y^{\mathrm{new}}) \ge \max\big(\lambda,\ q\big)", "q(y^new) ≥ max(λ, q)"),
        (r"z^{(t)}_i \in \mathbb{R}^{|V|}", "z^(t)_i ∈ R^|V|"),
    ],
)
def test_tex_to_text(tex, text):
    assert tex_to_text(tex) == text


def test_plain_text_strips_delimiters_and_markdown_links():
    s = r"the prior \(\tau(i)\) of [`sample`](https://x.org/a.html#s), \[\frac{a}{b}\] and $$x$$"
    assert plain_text(s) == "the prior τ(i) of sample, a/b and x"
    assert plain_text("no maths here, [1, 2] (3)") == "no maths here, [1, 2] (3)"
    # smalldocs strips the delimiters: bare TeX is rewritten, the code around it is not (braces, \\)
    bare = r"prior \tau_{\mathrm{logit}} = \frac{T}{n}; dict(a={1: 2}); title('$x \\mid y$')"
    assert plain_text(bare) == r"prior τ_logit = T/n; dict(a={1: 2}); title('$x \\mid y$')"


def page(body: str, toc: str = "") -> str:
    return (
        f'<html><head><title>t</title></head><body><nav id="TOC">{toc}</nav>'
        f'<main class="content">{body}</main></body></html>'
    )


@pytest.fixture
def site(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.html").write_text(
        page(
            '<h2 id="cls">Cls</h2>'
            '<pre><code><span class="co"># a [`Cls`](https://example.org/proj/a.html#cls) '
            "or [`B`](https://example.org/proj/sub/b.html)</span></code></pre>"
            '<p><a href="https://example.org/proj/a.html#cls.forward"><code>Cls.forward</code></a> '
            'and <a href="a.html#_private"><code>_Private</code></a> '
            'and <a href="https://github.com/x">gh</a></p>'
            '<section id="sec"><h2 class="anchored">Trouble with '
            '<span class="math inline">\\(\\lambda\\)</span>'
            '<a class="anchorjs-link" href="#sec"></a></h2></section>'
            f'<figure><img src="data:image/png;base64,{PNG}">'
            "<figcaption>Loss per step</figcaption></figure>",
            toc='<a class="nav-link" href="#sec">Trouble with \\lambda</a>',
        )
    )
    (tmp_path / "sub" / "b.html").write_text(
        page('<p><a href="https://example.org/proj/a.html#cls">up</a></p>')
    )
    (tmp_path / "search.json").write_text(
        json.dumps(
            [
                {
                    "href": "a.html",
                    "title": "A",
                    "section": r"\(\lambda\)",
                    "text": r"see [`Cls`](https://example.org/proj/a.html#cls)",
                }
            ]
        )
    )
    return tmp_path


def test_site_repairs(site):
    fixed = Site(site, URL).run()
    a = (site / "a.html").read_text()
    # a signature's raw Markdown links become links, relative to the page
    assert '# a <a href="a.html#cls">Cls</a> or <a href="sub/b.html">B</a>' in a
    # a method's missing anchor goes to its class; a private name with no section loses its link;
    # others stay
    assert '<a href="a.html#cls"><code>Cls.forward</code></a>' in a
    assert "<code>_Private</code>" in a and 'href="a.html#_private"' not in a
    assert '<a href="https://github.com/x">gh</a>' in a
    # the TOC entry shows the heading's maths (without its anchor link)
    toc = ('<a class="nav-link" href="#sec">Trouble with '
           '<span class="math inline">\\(\\lambda\\)</span></a>')
    assert toc in a
    # the figure is a file beside the page, linked at full size, with its caption as alt text
    files = list((site / "a_files" / "figure-html").glob("fig-*.png"))
    assert len(files) == 1 and files[0].read_bytes() == base64.b64decode(PNG)
    src = f"a_files/figure-html/{files[0].name}"
    assert (
        f'<a class="ardm-zoom" href="{src}" title="Open the figure at full size">'
        f'<img alt="Loss per step" src="{src}"/></a>'
    ) in a
    # a page one folder down links up with ../
    assert '<a href="../a.html#cls">up</a>' in (site / "sub" / "b.html").read_text()
    entry = json.loads((site / "search.json").read_text())[0]
    assert (entry["section"], entry["text"]) == ("λ", "see Cls")
    assert fixed["anchors to a parent"] == 1 and fixed["links to nowhere unlinked"] == 1
    assert fixed["signature links"] == 2 and fixed["figures written out"] == 1
