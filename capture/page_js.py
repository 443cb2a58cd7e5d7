"""JavaScript the capture runs in the page. All of it only reads (and scrolls): evidence pages are never modified.

Each snippet is one round trip; ``visible`` is shared so "visible" means the same everywhere.
"""

VISIBLE_JS = """
const visible = (el) => {
  if (!el || !el.getBoundingClientRect) return false;
  const r = el.getBoundingClientRect();
  const s = getComputedStyle(el);
  return r.width > 1 && r.height > 1 && s.visibility !== 'hidden' && s.display !== 'none'
         && Number(s.opacity) > 0.05;
};
"""

WALLS_JS = "(args) => {" + VISIBLE_JS + """
  let consent = null;
  for (const [name, sel] of args.cmp) {
    if ([...document.querySelectorAll(sel)].some(visible)) { consent = name; break; }
  }
  if (!consent) {
    const words = new RegExp(args.words, 'i');
    for (const el of document.querySelectorAll(args.generic)) {
      if (visible(el) && words.test(el.innerText || '')
          && el.querySelector(args.buttons)) { consent = 'generic'; break; }
    }
  }
  const pw = [...document.querySelectorAll(args.password)].find(visible);
  let overlay = false;
  if (pw) {
    for (let el = pw; el && el !== document.body; el = el.parentElement) {
      const s = getComputedStyle(el);
      if (el.matches(args.overlay) || s.position === 'fixed') { overlay = true; break; }
    }
  }
  return {consent, password: !!pw, overlay};
}"""

#: How much of what the window shows (and of the post) a layer over the page hides. A grid of points is
#: hit-tested; at each point the topmost element may belong to a *layer*: a fixed box, an open <dialog> or a
#: large high-z absolute box (z-index not negative) that does not hold the post and paints something there.
#: A point counts only where page content lies beneath the layer (text, media, the post): fixed menus and
#: side rails beside the content cover nothing. The consent dialog's own box counts too (pointer-events: none).
COVER_JS = "(args) => {" + VISIBLE_JS + """
  const vw = innerWidth, vh = innerHeight;
  const root = document.documentElement, body = document.body;
  let post = null;
  for (const sel of args.postSelectors) {
    post = [...document.querySelectorAll(sel)].find(visible) || null;
    if (post) break;
  }
  const up = (e) => e.parentElement || (e.getRootNode && e.getRootNode().host) || null;
  const topAt = (x, y) => {
    let el = document.elementFromPoint(x, y);
    while (el && el.shadowRoot) {
      const inner = el.shadowRoot.elementFromPoint(x, y);
      if (!inner || inner === el) break;
      el = inner;
    }
    return el;
  };
  const layerOf = (el) => {
    for (let e = el; e && e !== root && e !== body; e = up(e)) {
      const s = getComputedStyle(e);
      const z = parseInt(s.zIndex, 10) || 0;
      if ((s.position === 'fixed' || (e.matches && e.matches('dialog[open]'))) && z >= 0) return e;
      if (s.position === 'absolute' && z >= 100) {
        const r = e.getBoundingClientRect();
        if (r.width * r.height >= 0.5 * vw * vh) return e;
      }
    }
    return null;
  };
  const alpha = (c) => {
    if (!c || c === 'transparent') return 0;
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return 1;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean);
    return p.length > 3 ? parseFloat(p[3]) : 1;
  };
  const media = /^(img|svg|video|canvas|iframe|picture|input|button|textarea|select)$/i;
  const ownText = (el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const painted = (el, layer) => {
    if (media.test(el.tagName) || ownText(el)) return true;
    for (let e = el; e; e = up(e)) {
      const s = getComputedStyle(e);
      if (s.backgroundImage !== 'none' || alpha(s.backgroundColor) > 0.05) return true;
      if (e === layer) break;
    }
    return false;
  };
  const isContent = (e) => e !== root && e !== body
    && ((post && (e === post || post.contains(e))) || media.test(e.tagName) || ownText(e));
  const layerAt = (x, y) => {  // the painted layer on top at (x, y) that does not hold the post, or null
    const el = topAt(x, y);
    if (!el || (post && post.contains(el))) return null;
    const layer = layerOf(el);
    if (!layer || (post && layer.contains(post)) || !visible(layer) || !painted(el, layer)) return null;
    return layer;
  };
  const contentUnder = (x, y, layer) => document.elementsFromPoint(x, y)
    .some((e) => !(layer && (layer.contains(e) || e.contains(layer))) && isContent(e));
  const points = [];
  for (let i = 0; i < 16; i++) for (let j = 0; j < 12; j++) points.push([(i + 0.5) * vw / 16, (j + 0.5) * vh / 12]);
  const layers = points.map(([x, y]) => layerAt(x, y));
  const hits = new Map();
  let covered = 0, contentPoints = 0, layered = 0;
  const total = points.length;
  for (const layer of layers) if (layer) { layered++; hits.set(layer, (hits.get(layer) || 0) + 1); }
  if (layered) {  // only then is it worth asking what lies beneath (the common page has no layer at all)
    points.forEach(([x, y], k) => {
      if (contentUnder(x, y, layers[k])) { contentPoints++; if (layers[k]) covered++; }
    });
  }
  // a wall over a page with (almost) nothing beneath it: the layer's share of the window itself
  let viewport = !layered ? 0 : contentPoints >= 8 ? covered / contentPoints : layered / total;
  if (args.consentSelector) {
    for (const el of document.querySelectorAll(args.consentSelector)) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      const w = Math.max(0, Math.min(vw, r.right) - Math.max(0, r.left));
      const h = Math.max(0, Math.min(vh, r.bottom) - Math.max(0, r.top));
      viewport = Math.max(viewport, (w * h) / (vw * vh));
      if (!hits.size && w * h > 0) hits.set(el, 1);
    }
  }
  let postShare = null;
  if (post) {
    const r = post.getBoundingClientRect();
    const x0 = Math.max(0, r.left), x1 = Math.min(vw, r.right), y0 = Math.max(0, r.top), y1 = Math.min(vh, r.bottom);
    if (x1 - x0 >= 4 && y1 - y0 >= 4) {
      let under = 0;
      for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) {
        if (layerAt(x0 + (i + 0.5) * (x1 - x0) / 8, y0 + (j + 0.5) * (y1 - y0) / 8)) under++;
      }
      postShare = under / 64;
    }
  }
  let top = null, most = 0;
  for (const [layer, n] of hits) if (n > most) { top = layer; most = n; }
  const text = top ? (top.innerText || top.getAttribute('aria-label') || '').replace(/\\s+/g, ' ').trim().slice(0, 200) : '';
  return {viewport, post: postShare, text};
}"""

SCROLL_JS = """
async ({maxHeight, budgetMs, pauseMs}) => {
  const se = document.scrollingElement || document.documentElement;
  const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const t0 = performance.now();
  let y = 0, steps = 0, outOfTime = false;
  for (;;) {
    const limit = Math.min(se.scrollHeight, maxHeight);
    if (y + innerHeight >= limit) break;
    if (performance.now() - t0 > budgetMs) { outOfTime = true; break; }
    y = Math.min(y + innerHeight, limit - innerHeight);
    window.scrollTo(0, y);
    steps++;
    await frame();
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  window.scrollTo(0, 0);
  await frame();
  return {steps, y, height: se.scrollHeight, outOfTime};
}"""

IMAGES_JS = """
async ({maxHeight, budgetMs}) => {
  const pending = [...document.images].filter((img) => {
    if (img.complete) return false;
    const top = img.getBoundingClientRect().top + scrollY;
    return top < maxHeight;
  });
  const loaded = Promise.all(pending.map((img) => new Promise((r) => {
    img.addEventListener('load', r, {once: true}); img.addEventListener('error', r, {once: true});
  })));
  const fonts = document.fonts ? document.fonts.ready : Promise.resolve();
  await Promise.race([Promise.all([loaded, fonts]), new Promise((r) => setTimeout(r, budgetMs))]);
  return {waited: pending.length, stillLoading: pending.filter((img) => !img.complete).length};
}"""

POST_RECT_JS = "(selectors) => {" + VISIBLE_JS + """
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      const x = Math.floor(r.left + scrollX), y = Math.floor(r.top + scrollY);
      return {x, y, width: Math.ceil(r.right + scrollX) - x, height: Math.ceil(r.bottom + scrollY) - y,
              sx: Math.round(scrollX), sy: Math.round(scrollY), vw: innerWidth, vh: innerHeight};
    }
  }
  return null;
}"""

EXTRACT_JS = "(args) => {" + VISIBLE_JS + """
  const meta = {};
  const wanted = /^(og:.+|article:published_time|author|description)$/i;
  for (const m of document.querySelectorAll('meta[property],meta[name]')) {
    const key = (m.getAttribute('property') || m.getAttribute('name') || '').trim();
    if (wanted.test(key) && !(key in meta)) meta[key] = m.getAttribute('content') || '';
  }
  let post = null;
  outer: for (const sel of args.postSelectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (!visible(el)) continue;
      let author = null;
      for (const asel of args.authorSelectors) {
        const a = el.querySelector(asel);
        if (a) { author = {href: a.href || a.getAttribute('href') || null, text: (a.innerText || '').trim()}; break; }
      }
      const idEl = el.closest('[data-post-id],[data-id]') || el.querySelector('[data-post-id]');
      post = {selector: sel, text: el.innerText || '', author,
              id: idEl ? (idEl.getAttribute('data-post-id') || idEl.getAttribute('data-id')) : null};
      break outer;
    }
  }
  return {title: document.title || '', meta, text: document.body ? document.body.innerText : '', post};
}"""
