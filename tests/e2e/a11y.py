"""A small axe-like check run inside the page, and a keyboard-only walk with Tab."""

from __future__ import annotations

CHECK = r"""
() => {
  const problems = [];
  const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  if (!document.documentElement.lang) problems.push('html has no lang');
  if (!document.title.trim()) problems.push('no <title>');
  const h1s = document.querySelectorAll('h1').length;
  if (h1s !== 1) problems.push('expected one h1, found ' + h1s);
  let last = 0;
  for (const h of document.querySelectorAll('h1,h2,h3,h4,h5,h6')) {
    const level = +h.tagName[1];
    if (level > last + 1) problems.push('heading skips to ' + h.tagName + ': ' + h.textContent.trim());
    last = level;
  }
  for (const el of document.querySelectorAll('input,select,textarea')) {
    if (el.type === 'hidden') continue;
    const label = (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]'))
      || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.closest('label');
    if (!label) problems.push('input without label: ' + (el.name || el.outerHTML.slice(0, 60)));
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!el.textContent.trim() && !el.getAttribute('aria-label')) problems.push('control without a name');
  }
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  const dup = ids.filter((x, i) => ids.indexOf(x) !== i);
  if (dup.length) problems.push('duplicate ids: ' + dup.join(','));
  for (const img of document.querySelectorAll('img')) {
    if (!img.hasAttribute('alt')) problems.push('img without alt');
  }
  const skip = document.querySelector('a[href="#main"]');
  if (!skip || !document.getElementById('main')) problems.push('no skip link');
  const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  for (const el of document.querySelectorAll('body *')) {
    if (!visible(el) || el.closest('svg')) continue;
    const text = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!text) continue;
    const style = getComputedStyle(el);
    const a = lum(rgb(style.color).slice(0, 3)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && +style.fontWeight >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      problems.push('contrast ' + ratio.toFixed(2) + ': ' + el.textContent.trim().slice(0, 40));
    }
  }
  return problems;
}
"""


FOCUSED = ("() => { const e = document.activeElement; "
           "return (e.tagName + ' ' + (e.textContent || e.name || '').trim()).slice(0, 60); }")


def check_page(page) -> list[str]:
    """Problems an automated look finds: labels, one h1, heading order, lang, names, contrast."""
    return page.evaluate(CHECK)


def tab_until(page, predicate_js: str, limit: int = 60) -> list[str]:
    """Press Tab until the focused element satisfies ``predicate_js``; returns what was focused on the way."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        seen.append(focused)
        if page.evaluate(f"() => {{ const e = document.activeElement; return !!({predicate_js}); }}"):
            return seen
    raise AssertionError(f"Tab never reached {predicate_js}; focus went through {seen}")
