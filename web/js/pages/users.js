// An instance's ACL users (besides `default`): list, create (a password given or generated,
// shown once), edit rules, enable/disable, rotate the password (the new one shown once) and
// finish the rotation, delete. Rules are checked by a running node: a 422 names the token.
import { del, get, idempotencyKey, patch, post } from '../api.js';
import { badge, clear, confirmDialog, copyField, errorBox, h, instanceErrorBox, runAction, timeEl } from '../dom.js';
import { field, showErrors } from '../form.js';

const POLL_MS = 5000;
const NAME_RE = /^[A-Za-z0-9._:@-]{1,64}$/;
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 256;
const RULES_EXAMPLE = '~app:* +@read +@write -@dangerous';

function userPath(id, name, action = '') {
  return `/v1/instances/${encodeURIComponent(id)}/users/${encodeURIComponent(name)}${action}`;
}

// The shown-once panel of a password (create or rotation).
function passwordPanel(title, text, user, password) {
  return h('section.card.credentials', { 'aria-labelledby': 'pw-title' },
    h('h2#pw-title', { tabindex: '-1' }, title),
    h('p', {}, text, ' It is shown only now: keep it.'),
    copyField(`Password of ${user}`, password));
}

// The create form's values -> {errors, body}, checked as the API checks them.
function validateUser(v) {
  const errors = {};
  const body = { name: v.name, rules: v.rules, enabled: v.enabled };
  if (!NAME_RE.test(v.name)) errors.name = 'name must be 1 to 64 characters of A-Z a-z 0-9 . _ : @ -';
  if (!v.generate) {
    if (v.password.length < PASSWORD_MIN || v.password.length > PASSWORD_MAX) errors.password = `password must be a string of ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`;
    else body.password = v.password;
  }
  return { errors, body };
}

// A dialog with one form field: resolves once save(value) succeeds, or to false on cancel.
// save throws an ApiError: its message is shown at the field and the dialog stays open.
function fieldDialog({ title, name, label, value, help, saveLabel, save }) {
  return new Promise((resolve) => {
    const input = h('textarea', { rows: 3, spellcheck: 'false' });
    input.value = value;
    const general = h('div', { 'aria-live': 'polite' });
    const ok = h('button', { type: 'submit' }, saveLabel);
    const cancel = h('button.secondary', { type: 'button' }, 'Cancel');
    const form = h('form', { novalidate: true }, h('h2', {}, title), field(name, label, input, help), general, h('div.actions', {}, cancel, ok));
    const dlg = h('dialog', { 'aria-label': title }, form);
    const done = (v) => {
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    cancel.addEventListener('click', () => done(false));
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      ok.disabled = true;
      clear(general);
      try {
        await save(input.value.trim());
        done(true);
      } catch (err) {
        ok.disabled = false;
        if (err.field === 'rules' || err.status === 422) showErrors(form, { [name]: err.message }).focus();
        else general.append(errorBox(err));
      }
    });
    document.body.append(dlg);
    dlg.showModal();
    input.focus();
  });
}

function createForm(id, onCreated) {
  const inputs = {
    name: h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', maxlength: 64 }),
    rules: h('input', { type: 'text', spellcheck: 'false', placeholder: RULES_EXAMPLE }),
    generate: h('input', { type: 'checkbox', defaultChecked: true }),
    password: h('input', { type: 'password', autocomplete: 'new-password', disabled: true }),
    enabled: h('input', { type: 'checkbox', defaultChecked: true }),
  };
  inputs.generate.addEventListener('change', () => (inputs.password.disabled = inputs.generate.checked));
  const general = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Create user');
  const form = h('form.card', { novalidate: true, 'aria-labelledby': 'new-user-title' },
    h('h2#new-user-title', {}, 'New user'),
    h('div.grid', {},
      field('name', 'Username', inputs.name, 'A-Z a-z 0-9 . _ : @ -, up to 64 characters'),
      field('rules', 'Rules', inputs.rules, `ACL rules, for example ${RULES_EXAMPLE}; empty: no access`),
      field('generate', 'Generate a password', inputs.generate),
      field('password', 'Password', inputs.password, `${PASSWORD_MIN} to ${PASSWORD_MAX} characters, when not generated`),
      field('enabled', 'Enabled', inputs.enabled)),
    general,
    h('div.actions', {}, submit));
  // One key per attempt, as for instances: a double submit cannot create twice.
  let key = idempotencyKey();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(general);
    const { errors, body } = validateUser({
      name: inputs.name.value.trim(), rules: inputs.rules.value.trim(), generate: inputs.generate.checked,
      password: inputs.password.value, enabled: inputs.enabled.checked,
    });
    const first = showErrors(form, errors);
    if (first) return first.focus();
    submit.disabled = true;
    try {
      const { data } = await post(`/v1/instances/${encodeURIComponent(id)}/users`, body, { headers: { 'Idempotency-Key': key } });
      key = idempotencyKey();
      form.reset();
      inputs.password.disabled = true;
      onCreated(data);
    } catch (err) {
      if (err.status >= 400 && err.status < 500) key = idempotencyKey();
      const shown = err.field && form.querySelector(`[data-field="${err.field}"]`);
      if (shown) showErrors(form, { [err.field]: err.message }).focus();
      else general.append(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export function render(main, [id], _session) {
  let alive = true;
  let timer = null;
  let shown = null; // the list as last drawn (JSON): unchanged data is not redrawn
  const title = h('h1', {}, 'Users');
  const msg = h('div', { 'aria-live': 'polite' });
  const secret = h('div');
  const count = h('p.count');
  const body = h('tbody');

  const act = (fn) => runAction(msg, fn, load);
  const showPassword = (panel) => {
    secret.replaceChildren(panel);
    secret.querySelector('h2').focus();
  };

  const editRules = (u) => act(() => fieldDialog({
    title: `Rules of ${u.name}`, name: 'edit-rules', label: 'Rules', value: u.rules, saveLabel: 'Save rules',
    help: 'ACL rules as in ACL SETUSER, without passwords or on/off.',
    save: (rules) => patch(userPath(id, u.name), { rules }),
  }));
  const toggle = (u) => act(() => patch(userPath(id, u.name), { enabled: !u.enabled }));
  const rotate = async (u) => {
    if (!(await confirmDialog({ title: `Rotate the password of ${u.name}?`, body: 'A new password is made and shown once. The current one keeps working for an hour, or until you finish the rotation.', confirmLabel: 'Rotate password', danger: false }))) return;
    act(async () => {
      const { data } = await post(userPath(id, u.name, '/rotate-password'), {}, { headers: { 'Idempotency-Key': idempotencyKey() } });
      showPassword(passwordPanel(`New password of ${u.name}`, 'Move the clients to it, then finish the rotation.', u.name, data.password));
    });
  };
  const finish = async (u) => {
    if (!(await confirmDialog({ title: `Finish the rotation of ${u.name}?`, body: 'The old password stops working now.', confirmLabel: 'Finish rotation' }))) return;
    act(() => post(userPath(id, u.name, '/finish-rotation')));
  };
  const remove = async (u) => {
    if (!(await confirmDialog({ title: `Delete ${u.name}?`, body: 'The user is removed from every node and its connections are closed.', confirmLabel: 'Delete user', typed: u.name }))) return;
    act(async () => {
      await del(userPath(id, u.name));
      clear(secret);
    });
  };

  const row = (u) => h('tr', { dataset: { user: u.name, enabled: String(u.enabled), rotating: String(u.rotating) } },
    h('th.mono', { scope: 'row' }, u.name),
    h('td.mono.wrap', {}, u.rules || '(no access)'),
    h('td', {}, badge(u.enabled ? 'enabled' : 'disabled')),
    h('td', {}, u.rotating ? ['old one accepted until ', timeEl(u.old_password_expires_at)] : '—'),
    h('td', {}, timeEl(u.created_at)),
    h('td.rowactions', {},
      h('button.secondary', { type: 'button', 'aria-label': `Edit rules of ${u.name}`, onclick: () => editRules(u) }, 'Edit rules'),
      h('button.secondary', { type: 'button', 'aria-label': `${u.enabled ? 'Disable' : 'Enable'} ${u.name}`, onclick: () => toggle(u) }, u.enabled ? 'Disable' : 'Enable'),
      h('button.secondary', { type: 'button', 'aria-label': `Rotate the password of ${u.name}`, onclick: () => rotate(u) }, 'Rotate password'),
      u.rotating ? h('button.secondary', { type: 'button', 'aria-label': `Finish the rotation of ${u.name}`, onclick: () => finish(u) }, 'Finish rotation') : null,
      h('button.danger', { type: 'button', 'aria-label': `Delete ${u.name}`, onclick: () => remove(u) }, 'Delete…')));

  const form = createForm(id, (data) => {
    showPassword(passwordPanel(`${data.user.name} is created`, 'This is its password.', data.user.name, data.password));
    load();
  });
  main.append(
    h('div.pagehead', {}, title, h('a.button.secondary', { href: `#/instances/${id}` }, 'Back to the instance')),
    h('p.help', {}, 'ACL users of the instance besides default (whose password is the instance\'s). The nodes get every change within a few seconds.'),
    msg, secret, form, count,
    h('div.tablewrap', {}, h('table.list#users-table', {},
      h('caption.visually-hidden', {}, 'Users'),
      h('thead', {}, h('tr', {}, ['User', 'Rules', 'Status', 'Password rotation', 'Created', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      body)));

  let inst = null;
  const load = async () => {
    clearTimeout(timer);
    try {
      if (!inst) {
        inst = (await get(`/v1/instances/${encodeURIComponent(id)}`)).data;
        title.textContent = `Users of ${inst.name}`;
      }
      const { data } = await get(`/v1/instances/${encodeURIComponent(id)}/users`);
      if (!alive) return;
      const json = JSON.stringify(data.items);
      if (json !== shown) {
        shown = json;
        // A redraw keeps the keyboard focus on the same button of the same user.
        const focused = body.contains(document.activeElement) ? document.activeElement.getAttribute('aria-label') : null;
        body.replaceChildren(...data.items.map(row));
        const again = focused && [...body.querySelectorAll('button')].find((b) => b.getAttribute('aria-label') === focused);
        if (again) again.focus();
        count.textContent = data.items.length ? `${data.items.length} user(s)` : 'No users besides default yet.';
      }
    } catch (e) {
      if (alive) clear(msg).append(instanceErrorBox(e));
    }
    if (alive) timer = setTimeout(load, POLL_MS);
  };
  load();
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}
