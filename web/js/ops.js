// Operations in progress: every operation the console starts is polled until it finishes and
// shown in the Operations panel with its progress and current step; pages subscribe to hear
// when one finishes (to reload what it changed).
import { get } from './api.js';
import { announce, h } from './dom.js';

const POLL_MS = 1000;
const KEEP_FINISHED_MS = 15000;
const tracked = new Map(); // id -> {op, label, timer}
const finishListeners = new Set();

export function onOperationFinished(fn) {
  finishListeners.add(fn);
  return () => finishListeners.delete(fn);
}

export function track(op, label) {
  if (!op || tracked.has(op.id)) return;
  tracked.set(op.id, { op, label, timer: null });
  render();
  poll(op.id);
}

export function clearAll() {
  for (const t of tracked.values()) clearTimeout(t.timer);
  tracked.clear();
  render();
}

function dismiss(id) {
  const t = tracked.get(id);
  if (t) clearTimeout(t.timer);
  tracked.delete(id);
  render();
}

function finished(op) {
  return op.status === 'succeeded' || op.status === 'failed';
}

async function poll(id) {
  const t = tracked.get(id);
  if (!t) return;
  try {
    const { data } = await get(`/v1/operations/${encodeURIComponent(id)}`);
    t.op = data;
  } catch (err) {
    if (err.status === 404) t.op = { ...t.op, status: 'failed', error: 'the operation is gone' };
  }
  if (!tracked.has(id)) return;
  render();
  if (finished(t.op)) {
    announce(`${t.label}: ${t.op.kind} ${t.op.status}`);
    finishListeners.forEach((fn) => fn(t.op));
    t.timer = setTimeout(() => {
      tracked.delete(id);
      render();
    }, KEEP_FINISHED_MS);
  } else {
    t.timer = setTimeout(() => poll(id), POLL_MS);
  }
}

function currentStep(op) {
  const steps = op.steps || [];
  const s = steps.find((x) => x.status === 'running') || steps.find((x) => x.status === 'pending');
  if (!s) return '';
  return s.detail ? `${s.name}: ${s.detail}` : s.name;
}

function render() {
  const panel = document.getElementById('ops');
  const list = document.getElementById('ops-list');
  if (!panel) return;
  list.replaceChildren(
    ...[...tracked.values()].map(({ op, label }) => {
      const pid = 'op-' + op.id;
      return h('li.op', { dataset: { op: op.id, kind: op.kind, status: op.status } },
        h('span.op-label', { id: pid }, label, ' — ', op.kind, ' ', op.status),
        h('progress', { max: 100, value: op.progress || 0, 'aria-labelledby': pid }),
        h('span.op-step', {}, op.error ? op.error : finished(op) ? '' : currentStep(op)),
        finished(op) ? h('button.secondary.small', { type: 'button', 'aria-label': `Dismiss ${label}`, onclick: () => dismiss(op.id) }, 'Dismiss') : null);
    }));
  panel.hidden = tracked.size === 0;
  // Room below the content, so that what the floating panel covers can be scrolled clear of it.
  document.body.classList.toggle('ops-open', !panel.hidden);
}
