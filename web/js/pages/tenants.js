// The operator's view: tenants with their quotas and usage, and a tenant's tokens (made here,
// the secret shown once; revoked here).
import { del, get, listAll, post } from '../api.js';
import { clear, confirmDialog, copyField, errorBox, fmtBytes, h, timeEl } from '../dom.js';
import { field, showErrors } from '../form.js';
import { NAME_RE, parseBytes } from '../validate.js';

const QUOTA_INSTANCES_MAX = 10000;

function tenantForm(onCreated) {
  const name = h('input', { type: 'text', required: true, spellcheck: 'false' });
  const maxInst = h('input', { type: 'number', min: 0, max: QUOTA_INSTANCES_MAX, value: 10 });
  const maxMem = h('input', { type: 'text', placeholder: 'e.g. 8gb', spellcheck: 'false' });
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form.inline', { novalidate: true },
    field('name', 'Name', name), field('max_instances', 'Max instances', maxInst),
    field('max_memory', 'Max memory', maxMem), h('button', { type: 'submit' }, 'Create tenant'), msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(msg);
    const errors = {};
    const body = { name: name.value.trim() };
    if (!NAME_RE.test(body.name)) errors.name = 'name must be 1 to 63 characters of a-z, 0-9 and \'-\', starting with a letter or digit';
    if (!/^[0-9]+$/.test(maxInst.value) || Number(maxInst.value) > QUOTA_INSTANCES_MAX) errors.max_instances = `max_instances must be an integer 0 to ${QUOTA_INSTANCES_MAX}`;
    else body.max_instances = Number(maxInst.value);
    if (maxMem.value.trim()) {
      if (parseBytes(maxMem.value) === null) errors.max_memory = 'max_memory must be bytes or a size such as "8gb"';
      else body.max_memory = maxMem.value.trim();
    }
    const first = showErrors(form, errors);
    if (first) return first.focus();
    try {
      await post('/v1/tenants', body);
      name.value = '';
      onCreated();
    } catch (err) {
      const shown = err.field && form.querySelector(`[data-field="${err.field}"]`);
      if (shown) showErrors(form, { [err.field]: err.message });
      else msg.append(errorBox(err));
    }
  });
  return form;
}

function renderTenants(main) {
  const body = h('tbody');
  const msg = h('div', { 'aria-live': 'polite' });
  const load = async () => {
    try {
      const items = await listAll('/v1/tenants');
      body.replaceChildren(...items.map((t) => h('tr', { dataset: { tenant: t.id } },
        h('th', { scope: 'row' }, h('a', { href: `#/tenants/${t.id}` }, t.name)),
        h('td.mono', {}, t.id),
        h('td.num', {}, `${t.usage.instances} / ${t.max_instances}`),
        h('td.num', {}, `${fmtBytes(t.usage.memory)} / ${fmtBytes(t.max_memory)}`),
        h('td', {}, timeEl(t.created_at)),
        h('td.rowactions', {}, h('button.danger', { type: 'button', 'aria-label': `Delete tenant ${t.name}`, onclick: async () => {
          if (!(await confirmDialog({ title: `Delete tenant ${t.name}?`, body: 'Only a tenant without instances can be deleted; its tokens stop working.', confirmLabel: 'Delete tenant', typed: t.name }))) return;
          clear(msg);
          try {
            await del(`/v1/tenants/${t.id}`);
          } catch (err) {
            msg.append(errorBox(err));
          }
          load();
        } }, 'Delete…')))));
    } catch (err) {
      clear(msg).append(errorBox(err));
    }
  };
  main.append(h('h1', {}, 'Tenants and tokens'),
    h('section.card', { 'aria-labelledby': 'new-tenant' }, h('h2#new-tenant', {}, 'New tenant'), tenantForm(load)),
    msg,
    h('div.tablewrap', {}, h('table.list#tenants-table', {},
      h('caption.visually-hidden', {}, 'Tenants'),
      h('thead', {}, h('tr', {}, ['Tenant', 'Id', 'Instances', 'Memory', 'Created', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      body)));
  load();
}

function renderTokens(main, tenantId) {
  const title = h('h1', {}, 'Tokens');
  const body = h('tbody');
  const msg = h('div', { 'aria-live': 'polite' });
  const created = h('div');
  const name = h('input', { type: 'text', value: 'console', maxlength: 128 });
  const load = async () => {
    try {
      const { data: t } = await get(`/v1/tenants/${tenantId}`);
      title.textContent = `Tokens of ${t.name}`;
      const items = await listAll(`/v1/tenants/${tenantId}/tokens`);
      body.replaceChildren(...items.map((k) => h('tr', { dataset: { token: k.id } },
        h('th', { scope: 'row' }, k.name), h('td.mono', {}, k.id), h('td.mono', {}, `${k.prefix}…`),
        h('td', {}, timeEl(k.created_at)), h('td', {}, timeEl(k.last_used_at)),
        h('td', {}, k.revoked_at ? timeEl(k.revoked_at) : 'active'),
        h('td.rowactions', {}, k.revoked_at ? null : h('button.danger', { type: 'button', 'aria-label': `Revoke token ${k.name}`, onclick: async () => {
          if (!(await confirmDialog({ title: `Revoke ${k.name}?`, body: 'Requests with it fail at once.', confirmLabel: 'Revoke' }))) return;
          try {
            await del(`/v1/tenants/${tenantId}/tokens/${k.id}`);
          } catch (err) {
            clear(msg).append(errorBox(err));
          }
          load();
        } }, 'Revoke…')))));
    } catch (err) {
      clear(msg).append(errorBox(err));
    }
  };
  const form = h('form.inline', {}, field('token-name', 'Name', name), h('button', { type: 'submit' }, 'Create token'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(msg);
    try {
      const { data } = await post(`/v1/tenants/${tenantId}/tokens`, { name: name.value.trim() || 'token' });
      clear(created).append(h('div.card.credentials', {}, h('p', {}, `Token ${data.name}: shown only now, keep it.`), copyField('Token', data.secret)));
      load();
    } catch (err) {
      msg.append(errorBox(err));
    }
  });
  main.append(h('div.pagehead', {}, title, h('a.button.secondary', { href: '#/tenants' }, 'All tenants')),
    h('section.card', { 'aria-labelledby': 'new-token' }, h('h2#new-token', {}, 'New token'), form, created),
    msg,
    h('div.tablewrap', {}, h('table.list#tokens-table', {},
      h('caption.visually-hidden', {}, 'Tokens'),
      h('thead', {}, h('tr', {}, ['Name', 'Id', 'Prefix', 'Created', 'Last used', 'Revoked', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      body)));
  load();
}

export function render(main, [tenantId]) {
  if (tenantId) renderTokens(main, tenantId);
  else renderTenants(main);
}
