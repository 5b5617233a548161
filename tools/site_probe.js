// Measures a built docs page as a reader's browser lays it out. tools/browse.py adds this script to
// a copy of each page,
// headless Chromium runs it after the page's own scripts (KaTeX included) and --dump-dom brings its
// JSON back inside
// <script type="application/json" id="ardm-probe">. Nothing of it ships with the site.
(() => {
  const SKIP = "script, style, noscript, template, pre, code, textarea, .katex-mathml, "
    + ".katex-html[aria-hidden]";
  const shown = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);

  // Prose a reader sees: text nodes outside code, scripts and KaTeX's hidden MathML copy of each
  // equation.
  function visibleText() {
    const out = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest(SKIP) || el.closest("#ardm-probe") || !shown(el)) continue;
      const where = el.closest("#TOC") ? "toc" : el.closest("#quarto-sidebar") ? "sidebar" : "page";
      out.push([where, n.nodeValue]);
    }
    return out;
  }

  // Every line of every <pre> in the page body: is it wider than the box it sits in (so it needs
  // scrolling)?
  function codeLines() {
    const canvas = document.createElement("canvas").getContext("2d");
    const boxes = [];
    document.querySelectorAll("main pre").forEach((pre) => {
      if (!shown(pre)) return;
      const code = pre.querySelector("code") || pre;
      const cs = getComputedStyle(code);
      canvas.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      const ps = getComputedStyle(pre);
      const box = pre.clientWidth - parseFloat(ps.paddingLeft) - parseFloat(ps.paddingRight);
      const lines = code.textContent.replace(/\n$/, "").split("\n");
      const kind = pre.closest(".cell-output") ? "output" : "code";
      const width = (l) => canvas.measureText(l.replace(/\t/g, "    ")).width;
      const wide = lines.filter((l) => width(l) > box + 0.5);
      boxes.push({ kind, box: Math.round(box), lines: lines.length, wide: wide.length,
                   widest: wide.length ? Math.max(...wide.map((l) => l.length)) : 0,
                   first: wide.length ? wide[0].slice(0, 120) : "" });
    });
    return boxes;
  }

  function images() {
    return [...document.images].filter(shown).map((img) => ({
      src: img.getAttribute("src").slice(0, 80), alt: img.getAttribute("alt"),
      complete: img.complete,
      natural: [img.naturalWidth, img.naturalHeight], shown: [img.clientWidth, img.clientHeight],
      zoom: !!img.closest("a.ardm-zoom"), inMain: !!img.closest("main"),
    }));
  }

  function equations() {
    const out = [];
    document.querySelectorAll(".katex-display").forEach((d) => {
      out.push({ scrollX: d.scrollWidth > d.clientWidth + 1,
                 clipY: d.scrollHeight > d.clientHeight + 1,
                 width: d.scrollWidth, box: d.clientWidth });
    });
    return { display: out.length, inline: document.querySelectorAll(".katex").length - out.length,
             errors: document.querySelectorAll(".katex-error").length, displays: out };
  }

  function assets() {
    const urls = [];
    const withSrc = "script[src], img[src], iframe[src], source[src], video[src], audio[src]";
    document.querySelectorAll(withSrc)
      .forEach((e) => urls.push(e.src));
    document.querySelectorAll("link[href]").forEach((e) => {
      if (/(stylesheet|preload|modulepreload|icon)/.test(e.rel)) urls.push(e.href);
    });
    performance.getEntriesByType("resource").forEach((r) => urls.push(r.name));
    return [...new Set(urls)].filter((u) => !u.startsWith("data:"));
  }

  function report() {
    const h1 = document.querySelector("main h1.title, main h1");
    const res = {
      title: document.title, h1: h1 ? h1.textContent.trim() : null,
      text: visibleText(), code: codeLines(), images: images(), maths: equations(),
      assets: assets(),
      ids: [...document.querySelectorAll("[id]")].map((e) => e.id),
      links: [...document.querySelectorAll("a[href]")].map((a) => a.getAttribute("href")),
      column: (document.querySelector("main.content") || document.body).clientWidth,
    };
    const out = document.createElement("script");
    out.type = "application/json";
    out.id = "ardm-probe";
    out.textContent = JSON.stringify(res).replace(/</g, "\\u003c");
    document.body.appendChild(out);
  }

  if (document.readyState === "complete") setTimeout(report, 0);
  else window.addEventListener("load", () => setTimeout(report, 0));
})();
