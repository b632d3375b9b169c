// Small DOM helpers. Text always goes in as text nodes (never innerHTML): API data cannot
// inject markup, and nothing inline is needed, so the CSP can forbid inline script and style.

// h('tag.class#id', {attr: value, onclick: fn}, ...children)
export function h(spec, attrs = {}, ...children) {
  const m = spec.match(/^([a-z0-9]+)((?:[.#][\w-]+)*)$/i);
  const el = document.createElement(m ? m[1] : spec);
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Replaces el's children (null, false and undefined are skipped, as in h()).
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
const KIB = 1024;

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  let i = 0;
  let v = n;
  while (v >= KIB && i < UNITS.length - 1) {
    v /= KIB;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${UNITS[i]}`;
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function timeEl(iso) {
  return h('time', { datetime: iso || '' }, fmtTime(iso));
}

// A status as a badge: the word is always shown (colour is never the only cue).
export function badge(status) {
  return h(`span.badge.s-${String(status).replace(/[^a-z-]/g, '')}`, {}, status);
}

// Announces a message to screen readers (and shows nothing).
export function announce(msg) {
  const el = document.getElementById('announce');
  el.textContent = '';
  setTimeout(() => (el.textContent = msg), 50);
}

// Copies text; falls back to selecting it when the clipboard is not available.
export function copyButton(label, text, fallbackInput) {
  const btn = h('button.secondary.copy', { type: 'button', 'aria-label': `Copy ${label}` }, 'Copy');
  btn.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      btn.textContent = 'Copied';
      announce(`${label} copied`);
    } catch {
      if (fallbackInput) {
        fallbackInput.focus();
        fallbackInput.select();
      }
      btn.textContent = 'Press Ctrl+C';
    }
    setTimeout(() => (btn.textContent = 'Copy'), 2000);
  });
  return btn;
}

// A read-only field with a copy button.
export function copyField(label, value) {
  const id = 'cf-' + Math.random().toString(36).slice(2);
  const input = h('input', { id, type: 'text', readonly: true, value, spellcheck: 'false' });
  return h('div.copyfield', {}, h('label', { for: id }, label), h('div.row', {}, input, copyButton(label, value, input)));
}

// A read-only multi-line field (a PEM) with a copy button.
export function copyArea(label, value, rows = 6) {
  const id = 'ca-' + Math.random().toString(36).slice(2);
  const area = h('textarea', { id, readonly: true, rows, spellcheck: 'false' });
  area.value = value;
  return h('div.copyfield', {}, h('label', { for: id }, label), h('div.row', {}, area, copyButton(label, value, area)));
}

// An error box for a failed request or action.
export function errorBox(err) {
  return h('p.error', { role: 'alert' }, err && err.message ? err.message : String(err));
}

// The error box of a page about one instance, where a 404 means the instance is gone.
export function instanceErrorBox(err) {
  return errorBox(err && err.status === 404 ? 'This instance does not exist (any more).' : err);
}

// Runs an action started on a page: clears the page's message area, shows a failure there and
// reloads the page's data either way (an action that failed may still have changed something).
export async function runAction(msg, fn, reload) {
  clear(msg);
  try {
    await fn();
  } catch (e) {
    msg.append(errorBox(e));
  }
  reload();
}

// A modal confirmation (<dialog>). When typed is given the user must type it to confirm.
export function confirmDialog({ title, body, confirmLabel, typed, danger = true }) {
  return new Promise((resolve) => {
    const inputId = 'confirm-' + Math.random().toString(36).slice(2);
    const input = typed ? h('input', { id: inputId, type: 'text', autocomplete: 'off' }) : null;
    const ok = h(`button${danger ? '.danger' : ''}`, { type: 'submit', disabled: !!typed }, confirmLabel);
    const cancel = h('button.secondary', { type: 'button' }, 'Cancel');
    const form = h('form', { method: 'dialog' },
      h('h2', {}, title),
      h('p', {}, body),
      typed ? h('label', { for: inputId }, `Type ${typed} to confirm`) : null,
      input,
      h('div.actions', {}, cancel, ok));
    const dlg = h('dialog', { 'aria-label': title }, form);
    if (input) input.addEventListener('input', () => (ok.disabled = input.value !== typed));
    const done = (v) => {
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    cancel.addEventListener('click', () => done(false));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      done(true);
    });
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.append(dlg);
    dlg.showModal();
    (input || cancel).focus();
  });
}

const OBJECT_URL_KEEP_MS = 10000; // long enough for the browser to start the download

// Saves a Blob as a file (a download), e.g. what an authenticated fetch returned: the token
// stays in a header and never goes into a URL.
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), OBJECT_URL_KEEP_MS);
}
