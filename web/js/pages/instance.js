// One instance: status, actions (resize, restart, failover, delete), connection details, its
// nodes, live charts and the events timeline. Everything refreshes by polling the API.
import { del, get, patch, post } from '../api.js';
import { LiveChart } from '../charts.js';
import { badge, clear, confirmDialog, fill, copyField, errorBox, fmtBytes, h, timeEl } from '../dom.js';
import { field, showErrors } from '../form.js';
import { onOperationFinished, track } from '../ops.js';
import { REPLICAS_MAX, parseBytes, validateInstance } from '../validate.js';

const INSTANCE_POLL_MS = 2000;
const EVENTS_POLL_MS = 4000;
const EVENTS_SHOWN = 200;
const EVENTS_PAGE = 100;
const EVENTS_PAGES_PER_POLL = 10;
const MIB = 1024 * 1024;

function section(id, title, ...children) {
  return h('section.card', { 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

function redisCli(inst) {
  if (!inst.endpoint) return '';
  const cluster = inst.cluster_mode === 'yes' ? ' -c' : '';
  return `redis-cli${cluster} -h ${inst.endpoint.host} -p ${inst.endpoint.port} --user default --askpass`;
}

function connection(inst) {
  if (!inst.endpoint) return [h('p', {}, 'No endpoint yet: the nodes are being placed.')];
  return [
    copyField('URI', inst.uri || ''),
    copyField('redis-cli', redisCli(inst)),
    h('p.help', {}, 'The password is the one shown when the instance was created. ',
      inst.cluster_mode === 'yes' ? 'This is a cluster: use a cluster-aware client (redis-cli -c). ' : '',
      'Nodes do not use TLS yet, so there is no CA bundle to download.'),
  ];
}

function nodesTable(inst) {
  return h('div.tablewrap', {}, h('table.list#nodes-table', {},
    h('caption.visually-hidden', {}, 'Nodes'),
    h('thead', {}, h('tr', {}, ['Node', 'Shard', 'Role', 'Status', 'Address', 'Admin port', 'PID', 'Restarts'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, inst.nodes.map((n) => h('tr', { dataset: { node: n.id } },
      h('th.mono', { scope: 'row' }, n.id), h('td.num', {}, n.shard), h('td', {}, n.role),
      h('td', {}, badge(n.status)), h('td.mono', {}, `${n.host}:${n.port}`), h('td.num', {}, n.admin_port),
      h('td.num', {}, n.pid ?? '—'), h('td.num', {}, n.restarts))))));
}

function eventItem(e) {
  const change = e.from_status || e.to_status ? `${e.from_status || '—'} → ${e.to_status || '—'}` : '';
  return h('li.event', { dataset: { type: e.type } },
    timeEl(e.time), ' ', h('strong', {}, e.type), change ? h('span.change', {}, ' ', change) : null,
    e.node_id ? h('span.mono', {}, ' ', e.node_id) : null, e.reason ? h('span.reason', {}, ' — ', e.reason) : null);
}

// The resize form: memory and replicas, sent with If-Match so a stale page cannot undo a change.
function resizeForm(getInst, onDone) {
  const mem = h('input', { type: 'text', spellcheck: 'false' });
  const reps = h('input', { type: 'number', min: 0, max: REPLICAS_MAX });
  const msg = h('div', { 'aria-live': 'polite' });
  const btn = h('button', { type: 'submit' }, 'Apply');
  const form = h('form.inline', { novalidate: true },
    field('memory', 'Memory', mem), field('replicas_per_shard', 'Replicas per shard', reps), btn, msg);
  form.fill = (inst) => {
    if (document.activeElement === mem || document.activeElement === reps) return;
    mem.value = inst.memory % MIB === 0 ? `${inst.memory / MIB}mb` : String(inst.memory);
    reps.value = inst.replicas_per_shard;
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(msg);
    const inst = getInst();
    const { errors, body } = validateInstance({ memory: mem.value, replicas_per_shard: reps.value }, { create: false });
    if (!errors.memory && parseBytes(mem.value) < MIB * inst.shards) errors.memory = 'memory must be at least 1mb per shard';
    const first = showErrors(form, errors);
    if (first) return first.focus();
    btn.disabled = true;
    try {
      const { data } = await patch(`/v1/instances/${inst.id}`, body, { headers: { 'If-Match': inst.etag } });
      track(data.operation, inst.name);
      onDone();
    } catch (err) {
      const shown = err.field && form.querySelector(`[data-field="${err.field}"]`);
      if (shown) showErrors(form, { [err.field]: err.message });
      else msg.append(errorBox(err.status === 412 ? 'The instance changed meanwhile; the page has reloaded it, try again.' : err));
      onDone();
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

export function render(main, [id], _session) {
  let inst = null;
  let alive = true;
  const timers = [];
  const head = h('div.pagehead');
  const err = h('div');
  const actionsMsg = h('div', { 'aria-live': 'polite' });
  const conn = h('div');
  const nodes = h('div');
  const events = h('ol.timeline#events', { reversed: true });
  const resize = resizeForm(() => inst, () => refresh());
  const failoverBtn = h('button.secondary', { type: 'button' }, 'Failover');
  const shardSel = h('select#failover-shard');
  const charts = {
    nodes: new LiveChart('Nodes running', [{ label: 'running' }, { label: 'all' }], { unit: 'nodes' }),
    restarts: new LiveChart('Node restarts (total)', [{ label: 'restarts' }], { unit: 'restarts' }),
    pending: new LiveChart('Changes not yet applied', [{ label: 'spec − applied' }], { unit: 'versions' }),
  };

  const act = async (fn) => {
    clear(actionsMsg);
    try {
      const { data } = await fn();
      track(data.operation, inst.name);
      refresh();
    } catch (e) {
      actionsMsg.append(errorBox(e));
    }
  };
  const restartBtn = h('button.secondary', { type: 'button', onclick: async () => {
    if (await confirmDialog({ title: `Restart ${inst.name}?`, body: 'Nodes restart one at a time; each snapshots its data on the way down.', confirmLabel: 'Restart', danger: false }))
      act(() => post(`/v1/instances/${id}/restart`));
  } }, 'Restart');
  failoverBtn.addEventListener('click', async () => {
    const shard = Number(shardSel.value || 0);
    if (await confirmDialog({ title: `Fail over shard ${shard}?`, body: 'Its most up-to-date replica becomes the master once it has caught up; the old master becomes its replica.', confirmLabel: 'Fail over', danger: false }))
      act(() => post(`/v1/instances/${id}/failover`, { shard }));
  });
  const deleteBtn = h('button.danger', { type: 'button', onclick: async () => {
    if (!(await confirmDialog({ title: `Delete ${inst.name}?`, body: 'Its nodes are stopped and their data removed. Backups stay.', confirmLabel: 'Delete instance', typed: inst.name }))) return;
    clear(actionsMsg);
    try {
      const { data } = await del(`/v1/instances/${id}`);
      track(data.operation, inst.name);
      location.hash = '#/instances';
    } catch (e) {
      actionsMsg.append(errorBox(e));
    }
  } }, 'Delete…');

  main.append(head, err,
    h('div.columns', {},
      section('actions-title', 'Actions',
        h('div.actions', {}, restartBtn, h('label', { for: 'failover-shard' }, 'Shard'), shardSel, failoverBtn, deleteBtn),
        h('h3', {}, 'Resize'), resize, actionsMsg),
      section('conn-title', 'Connection', conn)),
    section('nodes-title', 'Nodes', nodes),
    section('charts-title', 'Charts',
      h('p.help', {}, 'Sampled from the instance every 2 s while this page is open. Ops/s, memory use, hit ratio, clients and replication lag need a metrics endpoint the API does not have yet.'),
      h('div.charts', {}, Object.values(charts).map((c) => c.el))),
    section('events-title', 'Events', events));

  const drawHead = () => {
    fill(head,
      h('h1', {}, inst.name),
      badge(inst.status),
      inst.status_reason ? h('span.reason', {}, inst.status_reason) : null,
      h('span.meta', {}, `${inst.id} · ${inst.shards} shard(s) × ${1 + inst.replicas_per_shard} node(s) · ${fmtBytes(inst.memory)} · ${inst.eviction_policy}`),
      h('a.button.secondary', { href: `#/instances/${id}/backups` }, 'Backups'));
  };
  const draw = () => {
    const hadFocus = head.contains(document.activeElement);
    drawHead();
    if (hadFocus) head.querySelector('h1').focus();
    clear(conn).append(...connection(inst));
    clear(nodes).append(nodesTable(inst));
    resize.fill(inst);
    const canFailover = inst.replicas_per_shard > 0;
    failoverBtn.disabled = !canFailover;
    failoverBtn.title = canFailover ? '' : 'needs replicas';
    if (shardSel.options.length !== inst.shards)
      shardSel.replaceChildren(...Array.from({ length: inst.shards }, (_, i) => h('option', { value: i }, String(i))));
    shardSel.disabled = !canFailover;
    const now = Date.now();
    charts.nodes.push(now, [inst.nodes.filter((n) => n.status === 'running').length, inst.nodes.length]);
    charts.restarts.push(now, [inst.nodes.reduce((a, n) => a + n.restarts, 0)]);
    charts.pending.push(now, [Math.max(0, inst.spec_version - inst.applied_version)]);
  };
  const refresh = async () => {
    try {
      const { data } = await get(`/v1/instances/${id}`);
      if (!alive) return;
      inst = data;
      clear(err);
      draw();
    } catch (e) {
      if (!alive) return;
      clear(err).append(errorBox(e.status === 404 ? 'This instance does not exist (any more).' : e));
    }
  };
  // Events come oldest first in pages; the last page's cursor is kept, so each poll reads only
  // that page and any newer ones (the cursor of a last page is not given: we refetch it).
  let eventsCursor = null;
  const seen = new Map();
  const loadEvents = async () => {
    try {
      for (let page = 0; page < EVENTS_PAGES_PER_POLL && alive; page++) {
        const q = new URLSearchParams({ limit: String(EVENTS_PAGE) });
        if (eventsCursor) q.set('cursor', eventsCursor);
        const { data } = await get(`/v1/instances/${id}/events?${q}`);
        data.items.forEach((e) => seen.set(e.seq, e));
        if (!data.next_cursor) break;
        eventsCursor = data.next_cursor;
      }
      const newest = [...seen.values()].sort((a, b) => b.seq - a.seq).slice(0, EVENTS_SHOWN);
      if (alive) events.replaceChildren(...newest.map(eventItem));
    } catch {
      /* the instance's error above says why */
    }
  };
  const loop = (fn, ms) => {
    const tick = async () => {
      await fn();
      if (alive) timers.push(setTimeout(tick, ms));
    };
    tick();
  };
  loop(refresh, INSTANCE_POLL_MS);
  loop(loadEvents, EVENTS_POLL_MS);
  const unsub = onOperationFinished(() => {
    refresh();
    loadEvents();
  });
  return () => {
    alive = false;
    timers.forEach(clearTimeout);
    unsub();
    Object.values(charts).forEach((c) => c.destroy());
  };
}
