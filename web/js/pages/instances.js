// The instances list: status, shards × replicas, memory, endpoint, labels; search and a status
// filter (client side, over every page of the list); refreshed every few seconds.
import { listAll } from '../api.js';
import { badge, clear, errorBox, fmtBytes, h, timeEl } from '../dom.js';

const REFRESH_MS = 3000;
const STATUSES = ['creating', 'running', 'updating', 'degraded', 'failed', 'deleting'];

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

function row(inst, isOperator) {
  const labels = Object.entries(inst.labels || {}).map(([k, v]) => h('span.label', {}, `${k}=${v}`));
  return h('tr', { dataset: { id: inst.id } },
    h('th', { scope: 'row' }, h('a', { href: `#/instances/${inst.id}` }, inst.name)),
    h('td', {}, badge(inst.status), inst.status_reason ? h('span.reason', {}, inst.status_reason) : null),
    h('td.num', {}, `${inst.shards} × ${1 + inst.replicas_per_shard}`),
    h('td.num', {}, fmtBytes(inst.memory)),
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
      h('th', { scope: 'col' }, 'Shards × nodes'), h('th', { scope: 'col' }, 'Memory limit'),
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
  const draw = () => {
    const shown = items.filter((i) => matches(i, search.value.trim(), status.value));
    body.replaceChildren(...shown.map((i) => row(i, session.isOperator)));
    count.textContent = items.length === 0 ? 'No instances yet.' : `${shown.length} of ${items.length} instance(s)`;
  };
  const load = async () => {
    try {
      items = await listAll('/v1/instances');
      clear(err);
      draw();
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
