// One instance: status, actions (resize, restart, failover, delete), connection details, its
// nodes, charts of its metrics, the events timeline, and with TLS the CA bundle and the server
// certificate. Everything refreshes by polling the API.
import { del, get, patch, post, request } from '../api.js';
import { badge, clear, confirmDialog, fill, copyField, errorBox, fmtBytes, h, instanceErrorBox, saveBlob, timeEl } from '../dom.js';
import { field, showErrors } from '../form.js';
import { metricsPanel } from '../metrics.js';
import { onOperationFinished, track } from '../ops.js';
import { REPLICAS_MAX, TLS_CLIENT_AUTH, TLS_CLIENT_AUTH_DEFAULT, parseBytes, validateInstance } from '../validate.js';

const INSTANCE_POLL_MS = 2000;
const EVENTS_POLL_MS = 4000;
const EVENTS_SHOWN = 200;
const EVENTS_PAGE = 100;
const EVENTS_PAGES_PER_POLL = 10;
const MIB = 1024 * 1024;

function section(id, title, ...children) {
  return h('section.card', { 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

const CA_FILE = 'dfly-ca.pem';

function redisCli(inst) {
  if (!inst.endpoint) return '';
  const cluster = inst.cluster_mode === 'yes' ? ' -c' : '';
  const tls = inst.tls ? ` --tls --cacert ${CA_FILE}` : '';
  const clientCert = inst.tls && inst.tls_client_auth === 'yes' ? ' --cert client.crt --key client.key' : '';
  return `redis-cli${cluster}${tls}${clientCert} -h ${inst.endpoint.host} -p ${inst.endpoint.port} --user default --askpass`;
}

// What the connection details depend on: they are redrawn only when it changes (a redraw would
// take the keyboard focus away from a copy button).
function connectionKey(inst) {
  return JSON.stringify([inst.endpoint, inst.uri, inst.cluster_mode, !!inst.tls, inst.tls_client_auth]);
}

function connection(inst) {
  if (!inst.endpoint) return [h('p', {}, 'No endpoint yet: the nodes are being placed.')];
  return [
    copyField('URI', inst.uri || ''),
    copyField('redis-cli', redisCli(inst)),
    h('p.help', {}, 'The password is the one shown when the instance was created. ',
      inst.cluster_mode === 'yes' ? 'This is a cluster: use a cluster-aware client (redis-cli -c). ' : '',
      inst.tls ? `The nodes speak TLS only: clients check them against the CA bundle (${CA_FILE}).` : 'The nodes do not use TLS.',
      inst.tls && inst.tls_client_auth === 'yes' ? ' Clients must also present a certificate of this instance (client certificates are made with the API or the CLI).' : ''),
  ];
}

// The server certificate's metadata (GET /v1/instances/{id}/certificate).
function certificateList(c) {
  const row = (term, ...value) => [h('dt', {}, term), h('dd', {}, ...value)];
  return h('dl.facts#certificate', {},
    row('Serial', h('span.mono', {}, c.serial)),
    row('Issuer', c.issuer),
    row('Valid from', timeEl(c.not_before)),
    row('Valid until', timeEl(c.not_after)),
    row('Renewed after', timeEl(c.renew_after)),
    row('Names', h('span.mono', {}, (c.sans || []).join(', '))),
    row('SHA-256 fingerprint', h('span.mono.wrap', {}, c.fingerprint_sha256)));
}

// The TLS part of the connection card: the CA bundle download, the certificate, its rotation.
// Fetched when TLS is on and again after an operation finishes (a rotation changes it).
function tlsPanel(id, onAction) {
  const box = h('div.tls');
  const msg = h('div', { 'aria-live': 'polite' });
  const cert = h('div');
  let shownFor = null;
  const download = h('button.secondary', { type: 'button' }, 'Download CA bundle');
  download.addEventListener('click', async () => {
    clear(msg);
    try {
      const { blob } = await request('GET', '/v1/ca', { raw: true, headers: { Accept: 'application/x-pem-file' } });
      saveBlob(blob, CA_FILE);
    } catch (e) {
      msg.append(errorBox(e));
    }
  });
  const rotate = h('button.secondary', { type: 'button' }, 'Rotate certificate');
  rotate.addEventListener('click', async () => {
    if (!(await confirmDialog({ title: 'Rotate the server certificate?', body: 'The nodes get a new certificate from the internal CA; clients that check against the CA bundle keep working.', confirmLabel: 'Rotate', danger: false }))) return;
    clear(msg);
    onAction(() => post(`/v1/instances/${id}/certificate/rotate`), msg);
  });
  box.append(h('h3', {}, 'Certificates'),
    h('div.actions', {}, download, rotate, h('a.button.secondary', { href: `#/instances/${id}/certificates` }, 'Client certificates')),
    msg, cert);
  const load = async () => {
    try {
      const { data } = await get(`/v1/instances/${id}/certificate`);
      fill(cert, h('h4', {}, 'Server certificate'), certificateList(data));
    } catch (e) {
      // TLS just turned on: the reconciler has not issued the certificate yet; ask again at the
      // next refresh of the instance.
      if (e.status === 404) shownFor = null;
      fill(cert, e.status === 404 ? h('p.help', {}, 'The server certificate is being issued.') : errorBox(e));
    }
  };
  return {
    el: box,
    // Shows or hides the panel for inst; force reloads the certificate.
    update(inst, force = false) {
      box.hidden = !inst.tls;
      if (!inst.tls) {
        shownFor = null;
        return;
      }
      if (force || shownFor !== inst.id) {
        shownFor = inst.id;
        load();
      }
    },
  };
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

// A form that PATCHes the instance with If-Match, so a stale page cannot undo a change.
// check(inst) -> {errors, body}; fill(inst) shows the instance's values (not while the user is
// editing a field). Errors, ours or the API's, show at their fields.
function patchForm(getInst, onDone, { fields, check, fill, submitLabel }) {
  const msg = h('div', { 'aria-live': 'polite' });
  const btn = h('button', { type: 'submit' }, submitLabel);
  const form = h('form.inline', { novalidate: true }, ...fields, btn, msg);
  form.fill = (inst) => {
    if (form.contains(document.activeElement) && document.activeElement !== btn) return;
    fill(inst);
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(msg);
    const inst = getInst();
    const { errors, body } = check(inst);
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

// Memory and replicas per shard.
function resizeForm(getInst, onDone) {
  const mem = h('input', { type: 'text', spellcheck: 'false' });
  const reps = h('input', { type: 'number', min: 0, max: REPLICAS_MAX });
  return patchForm(getInst, onDone, {
    submitLabel: 'Apply',
    fields: [field('memory', 'Memory', mem), field('replicas_per_shard', 'Replicas per shard', reps)],
    fill: (inst) => {
      mem.value = inst.memory % MIB === 0 ? `${inst.memory / MIB}mb` : String(inst.memory);
      reps.value = inst.replicas_per_shard;
    },
    check: (inst) => {
      const res = validateInstance({ memory: mem.value, replicas_per_shard: reps.value }, { create: false });
      if (!res.errors.memory && parseBytes(mem.value) < MIB * inst.shards) res.errors.memory = 'memory must be at least 1mb per shard';
      return res;
    },
  });
}

// TLS on or off, and whether clients must show a certificate; applied without restarting nodes.
function tlsForm(getInst, onDone) {
  const on = h('input', { type: 'checkbox' });
  const auth = h('select', {}, TLS_CLIENT_AUTH.map(([v, text]) => h('option', { value: v }, text)));
  on.addEventListener('change', () => (auth.disabled = !on.checked));
  return patchForm(getInst, onDone, {
    submitLabel: 'Save TLS settings',
    fields: [field('tls', 'TLS', on), field('tls_client_auth', 'Client certificates', auth)],
    fill: (inst) => {
      on.checked = !!inst.tls;
      auth.value = inst.tls_client_auth || TLS_CLIENT_AUTH_DEFAULT;
      auth.disabled = !on.checked;
    },
    check: () => ({ errors: {}, body: on.checked ? { tls: true, tls_client_auth: auth.value } : { tls: false } }),
  });
}

export function render(main, [id], _session) {
  let inst = null;
  let alive = true;
  const timers = [];
  const head = h('div.pagehead');
  const err = h('div');
  const actionsMsg = h('div', { 'aria-live': 'polite' });
  const conn = h('div');
  let connKey = null;
  const chartsBox = h('div');
  const nodes = h('div');
  const events = h('ol.timeline#events', { reversed: true });
  const resize = resizeForm(() => inst, () => refresh());
  const tlsSettings = tlsForm(() => inst, () => refresh());
  const tlsSection = h('div', { hidden: true }, h('h3', {}, 'Encryption in transit'), tlsSettings);
  const failoverBtn = h('button.secondary', { type: 'button' }, 'Failover');
  const shardSel = h('select#failover-shard');

  // Starts an action that answers {operation}; its errors go to where (the actions by default).
  const act = async (fn, where = actionsMsg) => {
    clear(where);
    try {
      const { data } = await fn();
      track(data.operation, inst.name);
      refresh();
    } catch (e) {
      where.append(errorBox(e));
    }
  };
  const tls = tlsPanel(id, act);
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
        h('h3', {}, 'Resize'), resize, tlsSection, actionsMsg),
      section('conn-title', 'Connection', conn, tls.el)),
    section('nodes-title', 'Nodes', nodes),
    section('charts-title', 'Metrics', chartsBox),
    section('events-title', 'Events', events));

  const drawHead = () => {
    fill(head,
      h('h1', {}, inst.name),
      badge(inst.status),
      inst.status_reason ? h('span.reason', {}, inst.status_reason) : null,
      h('span.meta', {}, `${inst.id} · ${inst.shards} shard(s) × ${1 + inst.replicas_per_shard} node(s) · ${fmtBytes(inst.memory)} · ${inst.eviction_policy}`),
      h('a.button.secondary', { href: `#/instances/${id}/users` }, 'Users'),
      h('a.button.secondary', { href: `#/instances/${id}/backups` }, 'Backups'));
  };
  const draw = () => {
    const hadFocus = head.contains(document.activeElement);
    drawHead();
    if (hadFocus) head.querySelector('h1').focus();
    if (connectionKey(inst) !== connKey) {
      connKey = connectionKey(inst);
      clear(conn).append(...connection(inst));
    }
    tls.update(inst);
    clear(nodes).append(nodesTable(inst));
    resize.fill(inst);
    // An API without TLS fields has no TLS settings to show.
    tlsSection.hidden = inst.tls === undefined;
    if (!tlsSection.hidden) tlsSettings.fill(inst);
    const canFailover = inst.replicas_per_shard > 0;
    failoverBtn.disabled = !canFailover;
    failoverBtn.title = canFailover ? '' : 'needs replicas';
    if (shardSel.options.length !== inst.shards)
      shardSel.replaceChildren(...Array.from({ length: inst.shards }, (_, i) => h('option', { value: i }, String(i))));
    shardSel.disabled = !canFailover;
  };
  // Refreshes overlap (the poll, and one after each action): an answer to an earlier request
  // than the one shown last is stale, and would show TLS still on after it was turned off.
  let asked = 0;
  let shown = 0;
  const refresh = async () => {
    const n = ++asked;
    try {
      const { data } = await get(`/v1/instances/${id}`);
      if (!alive || n < shown) return;
      shown = n;
      inst = data;
      clear(err);
      draw();
    } catch (e) {
      if (!alive || n < shown) return;
      clear(err).append(instanceErrorBox(e));
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
  const stopMetrics = metricsPanel(chartsBox, id);
  const unsub = onOperationFinished(async () => {
    loadEvents();
    // The certificate is reloaded for the instance as it is now: one the operation turned TLS
    // off for has none to fetch.
    await refresh();
    if (alive && inst) tls.update(inst, true);
  });
  return () => {
    alive = false;
    timers.forEach(clearTimeout);
    unsub();
    stopMetrics();
  };
}
