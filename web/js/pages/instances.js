// The instances list: status, shards × replicas, memory in use against the limit, ops/s,
// endpoint, labels; search and a status filter (client side, over every page of the list);
// refreshed every few seconds.
import { get, listAll } from '../api.js';
import { badge, clear, errorBox, fmtBytes, h, timeEl } from '../dom.js';

const REFRESH_MS = 3000;
const STATUSES = ['creating', 'running', 'updating', 'degraded', 'failed', 'deleting'];
// Memory in use and ops/s come from the metrics API, one request per instance: only for the
// first rows shown, and less often than the list, to stay far below the API's rate limit.
const METRICS_ROWS_MAX = 25;
const METRICS_REFRESH_MS = 10000;
const METRICS_WINDOW_S = 120; // the latest point of the last two minutes
const METRICS_NAMES = 'used_memory_bytes,ops_per_sec';
const opsFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

function matches(inst, text, status) {
  if (status && inst.status !== status) return false;
  if (!text) return true;
  const hay = [inst.name, inst.id, inst.tenant_id, inst.uri || '',
    ...Object.entries(inst.labels || {}).map(([k, v]) => `${k}=${v}`)].join(' ').toLowerCase();
  return text.toLowerCase().split(/\s+/).every((w) => hay.includes(w));
}

function endpointText(inst) {
  return inst.endpoint ? `${inst.endpoint.host}:${inst.endpoint.port}` : '—';
}

// The latest value of a series of a metrics answer, or null.
function latest(data, name) {
  const s = data.series.find((x) => x.name === name && !x.node_id);
  return s && s.points.length ? s.points[s.points.length - 1][1] : null;
}

function row(inst, isOperator, m) {
  const labels = Object.entries(inst.labels || {}).map(([k, v]) => h('span.label', {}, `${k}=${v}`));
  const used = m && m.used !== null ? `${fmtBytes(m.used)} of ` : '';
  return h('tr', { dataset: { id: inst.id } },
    h('th', { scope: 'row' }, h('a', { href: `#/instances/${inst.id}` }, inst.name)),
    h('td', {}, badge(inst.status), inst.status_reason ? h('span.reason', {}, inst.status_reason) : null),
    h('td.num', {}, `${inst.shards} × ${1 + inst.replicas_per_shard}`),
    h('td.num', {}, used, fmtBytes(inst.memory)),
    h('td.num', {}, m && m.ops !== null ? opsFormat.format(m.ops) : '—'),
    h('td.mono', {}, endpointText(inst)),
    isOperator ? h('td.mono', {}, inst.tenant_id) : null,
    h('td', {}, labels),
    h('td', {}, timeEl(inst.created_at)));
}

export function render(main, _params, session) {
  const search = h('input#search', { type: 'search', placeholder: 'name, id, label=value' });
  const status = h('select#status-filter', {},
    h('option', { value: '' }, 'any status'), STATUSES.map((s) => h('option', { value: s }, s)));
  const body = h('tbody');
  const count = h('p.count', { 'aria-live': 'polite' });
  const err = h('div');
  const table = h('table.list#instances-table', {},
    h('caption.visually-hidden', {}, 'Instances'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Status'),
      h('th', { scope: 'col' }, 'Shards × nodes'), h('th', { scope: 'col' }, 'Memory used / limit'),
      h('th', { scope: 'col' }, 'Ops/s'),
      h('th', { scope: 'col' }, 'Endpoint'),
      session.isOperator ? h('th', { scope: 'col' }, 'Tenant') : null,
      h('th', { scope: 'col' }, 'Labels'), h('th', { scope: 'col' }, 'Created'))),
    body);
  main.append(
    h('div.pagehead', {}, h('h1', {}, 'Instances'), h('a.button', { href: '#/instances/new' }, 'New instance')),
    h('form.filters', { role: 'search', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'search' }, 'Search'), search,
      h('label', { for: 'status-filter' }, 'Status'), status),
    err, count, h('div.tablewrap', {}, table));

  let items = [];
  let timer = null;
  let alive = true;
  const metrics = new Map(); // instance id -> {used, ops, at}
  const shownNow = () => items.filter((i) => matches(i, search.value.trim(), status.value));
  // Instances being deleted are skipped: their metrics would soon be a 404.
  const loadMetrics = async () => {
    const now = Date.now();
    const due = shownNow().filter((i) => i.status !== 'deleting').slice(0, METRICS_ROWS_MAX)
      .filter((i) => !metrics.has(i.id) || now - metrics.get(i.id).at >= METRICS_REFRESH_MS);
    const to = Math.floor(now / 1000);
    await Promise.all(due.map(async (i) => {
      const q = new URLSearchParams({ names: METRICS_NAMES, from: String(to - METRICS_WINDOW_S), to: String(to) });
      try {
        const { data } = await get(`/v1/instances/${encodeURIComponent(i.id)}/metrics?${q}`);
        metrics.set(i.id, { used: latest(data, 'used_memory_bytes'), ops: latest(data, 'ops_per_sec'), at: now });
      } catch {
        metrics.set(i.id, { used: null, ops: null, at: now });
      }
    }));
  };
  const draw = () => {
    const shown = shownNow();
    body.replaceChildren(...shown.map((i) => row(i, session.isOperator, metrics.get(i.id))));
    count.textContent = items.length === 0 ? 'No instances yet.' : `${shown.length} of ${items.length} instance(s)`;
  };
  const load = async () => {
    try {
      items = await listAll('/v1/instances');
      clear(err);
      draw();
      await loadMetrics();
      if (alive) draw();
    } catch (e) {
      clear(err).append(errorBox(e));
    }
    if (alive) timer = setTimeout(load, REFRESH_MS);
  };
  search.addEventListener('input', draw);
  status.addEventListener('change', draw);
  load();
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}
