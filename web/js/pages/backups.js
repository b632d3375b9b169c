// An instance's backups: take one now, watch it run, download the merged RDB file, restore it
// into the instance, delete it.
import { del, get, listAll, post, request } from '../api.js';
import { badge, clear, confirmDialog, errorBox, fmtBytes, h, runAction, saveBlob, timeEl } from '../dom.js';
import { onOperationFinished, track } from '../ops.js';

const POLL_MS = 2000;

function duration(ms) {
  return ms === null || ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`;
}

export function render(main, [id], _session) {
  let alive = true;
  let timer = null;
  let inst = null;
  const title = h('h1', {}, 'Backups');
  const msg = h('div', { 'aria-live': 'polite' });
  const body = h('tbody');
  const empty = h('p.count');
  const takeBtn = h('button', { type: 'button' }, 'Take a backup now');

  const act = (fn) => runAction(msg, fn, load);
  takeBtn.addEventListener('click', () => act(async () => {
    const { data } = await post(`/v1/instances/${id}/backups`);
    track(data.operation, inst ? inst.name : id);
  }));

  const download = (b) => act(async () => {
    const { blob } = await request('GET', `/v1/backups/${b.id}/download`, { raw: true });
    saveBlob(blob, `${b.id}.rdb`);
  });
  const restore = async (b) => {
    if (!(await confirmDialog({ title: `Restore ${b.id}?`, body: `Every node of ${inst.name} is stopped, its data replaced with this backup's, and started again. Writes since the backup are lost.`, confirmLabel: 'Restore', typed: inst.name }))) return;
    act(async () => {
      const { data } = await post(`/v1/instances/${id}/restore`, { backup_id: b.id });
      track(data.operation, inst.name);
    });
  };
  const remove = async (b) => {
    if (!(await confirmDialog({ title: `Delete ${b.id}?`, body: 'Its files are removed from the backup store.', confirmLabel: 'Delete backup' }))) return;
    act(() => del(`/v1/backups/${b.id}`));
  };

  const row = (b) => {
    const done = b.status === 'succeeded';
    return h('tr', { dataset: { backup: b.id, status: b.status } },
      h('th.mono', { scope: 'row' }, b.id), h('td', {}, badge(b.status), b.error ? h('span.reason', {}, b.error) : null),
      h('td', {}, b.trigger), h('td.num', {}, done ? fmtBytes(b.size) : '—'), h('td.num', {}, b.shards),
      h('td.num', {}, duration(b.duration_ms)), h('td', {}, timeEl(b.created_at)),
      h('td.rowactions', {},
        h('button.secondary', { type: 'button', disabled: !done, 'aria-label': `Download ${b.id}`, onclick: () => download(b) }, 'Download'),
        h('button.secondary', { type: 'button', disabled: !done, 'aria-label': `Restore ${b.id}`, onclick: () => restore(b) }, 'Restore…'),
        h('button.danger', { type: 'button', 'aria-label': `Delete ${b.id}`, onclick: () => remove(b) }, 'Delete…')));
  };

  main.append(
    h('div.pagehead', {}, title, h('a.button.secondary', { href: `#/instances/${id}` }, 'Back to the instance'), takeBtn),
    msg, empty,
    h('div.tablewrap', {}, h('table.list#backups-table', {},
      h('caption.visually-hidden', {}, 'Backups'),
      h('thead', {}, h('tr', {}, ['Backup', 'Status', 'Trigger', 'Size', 'Shards', 'Took', 'Created', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      body)));

  let loading = false;
  const load = async () => {
    if (loading) return;
    loading = true;
    clearTimeout(timer);
    try {
      if (!inst) {
        inst = (await get(`/v1/instances/${id}`)).data;
        title.textContent = `Backups of ${inst.name}`;
      }
      const items = await listAll(`/v1/instances/${id}/backups`);
      if (!alive) return;
      body.replaceChildren(...items.slice().reverse().map(row));
      empty.textContent = items.length ? `${items.length} backup(s), newest first` : 'No backups yet.';
    } catch (e) {
      if (alive) clear(msg).append(errorBox(e));
    }
    loading = false;
    if (alive) timer = setTimeout(load, POLL_MS);
  };
  const unsub = onOperationFinished(() => load());
  load();
  return () => {
    alive = false;
    clearTimeout(timer);
    unsub();
  };
}
