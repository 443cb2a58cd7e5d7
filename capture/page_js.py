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
    const boxes = document.querySelectorAll(
      "[role=dialog],[aria-modal=true],dialog[open],[id*=cookie i],[class*=cookie i],[id*=consent i],[class*=consent i]");
    for (const el of boxes) {
      if (visible(el) && /cookie|samtykke|consent/i.test(el.innerText || '')
          && el.querySelector('button,[role=button],input[type=button],input[type=submit]')) { consent = 'generic'; break; }
    }
  }
  const pw = [...document.querySelectorAll('input[type=password]')].find(visible);
  let overlay = false;
  if (pw) {
    for (let el = pw; el && el !== document.body; el = el.parentElement) {
      const s = getComputedStyle(el);
      if (el.matches('[role=dialog],[aria-modal=true],dialog') || s.position === 'fixed') { overlay = true; break; }
    }
  }
  let loginText = null;
  if (pw) {  // innerText forces layout of the whole page: only read it when a login form is visible
    const text = (document.body ? document.body.innerText : '').toLowerCase();
    loginText = args.loginTexts.find((t) => text.includes(t.toLowerCase())) || null;
  }
  return {consent, password: !!pw, overlay, loginText};
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
