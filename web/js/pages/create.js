// The create form: the API's fields, checked as the API checks them, then POST /v1/instances
// with an Idempotency-Key. The answer's password is shown once, with a copy button.
import { idempotencyKey, listAll, post } from '../api.js';
import { clear, copyField, errorBox, h } from '../dom.js';
import { field, showErrors } from '../form.js';
import { track } from '../ops.js';
import { EVICTION_POLICIES, REPLICAS_MAX, SHARDS_MAX, SHARDS_MIN, TLS_CLIENT_AUTH, TLS_CLIENT_AUTH_DEFAULT, validateInstance } from '../validate.js';

function credentialsPanel(data) {
  const inst = data.instance;
  const pw = data.credentials.password;
  return h('section.card.credentials', { 'aria-labelledby': 'cred-title' },
    h('h2#cred-title', { tabindex: '-1' }, `${inst.name} is being created`),
    h('p', {}, 'This is the password of the default user. It is shown only now: keep it.'),
    copyField('Password', pw),
    h('p', {}, h('a', { href: `#/instances/${inst.id}` }, `Go to ${inst.name}`)));
}

async function tenantSelect() {
  const sel = h('select', { required: true }, h('option', { value: '' }, 'choose a tenant'));
  try {
    for (const t of await listAll('/v1/tenants')) sel.append(h('option', { value: t.id }, `${t.name} (${t.id})`));
  } catch {
    /* shown as a validation error on submit */
  }
  return sel;
}

export function render(main, _params, session) {
  const inputs = {
    name: h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', maxlength: 63 }),
    memory: h('input', { type: 'text', required: true, value: '64mb', spellcheck: 'false' }),
    shards: h('input', { type: 'number', min: SHARDS_MIN, max: SHARDS_MAX, value: 1 }),
    replicas_per_shard: h('input', { type: 'number', min: 0, max: REPLICAS_MAX, value: 0 }),
    eviction_policy: h('select', {}, h('option', { value: '' }, 'default (noeviction)'), EVICTION_POLICIES.map((p) => h('option', { value: p }, p))),
    snapshot_cron: h('input', { type: 'text', placeholder: '0 * * * *', spellcheck: 'false' }),
    appendonly: h('input', { type: 'checkbox' }),
    labels: h('textarea', { rows: 3, placeholder: 'env=prod', spellcheck: 'false' }),
    tls: h('input', { type: 'checkbox' }),
    tls_client_auth: h('select', { disabled: true }, TLS_CLIENT_AUTH.map(([v, text]) => h('option', { value: v }, text))),
  };
  // Client certificates only mean something with TLS.
  inputs.tls.addEventListener('change', () => (inputs.tls_client_auth.disabled = !inputs.tls.checked));
  const general = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Create instance');
  const form = h('form.card.create', { novalidate: true },
    h('div.grid', {},
      field('name', 'Name', inputs.name, 'a-z, 0-9 and -, up to 63 characters'),
      field('memory', 'Memory (whole instance)', inputs.memory, 'bytes or 512mb, 2gb… split across shards; 1mb per shard to 1tb'),
      field('shards', 'Shards', inputs.shards, `${SHARDS_MIN} to ${SHARDS_MAX}`),
      field('replicas_per_shard', 'Replicas per shard', inputs.replicas_per_shard, `0 to ${REPLICAS_MAX}`),
      field('eviction_policy', 'Eviction policy', inputs.eviction_policy),
      field('persistence.snapshot_cron', 'Snapshot schedule (cron, UTC)', inputs.snapshot_cron, 'empty for none'),
      field('persistence.appendonly', 'Append-only journal', inputs.appendonly),
      field('labels', 'Labels', inputs.labels, 'key=value, one per line'),
      field('tls', 'TLS', inputs.tls, 'clients connect with TLS, checked against the CA bundle shown on the instance page'),
      field('tls_client_auth', 'Client certificates', inputs.tls_client_auth, 'with TLS: whether clients must present a certificate of the instance')),
    general,
    h('div.actions', {}, h('a.button.secondary', { href: '#/instances' }, 'Cancel'), submit));
  const result = h('div');
  main.append(h('h1', {}, 'New instance'), form, result);

  const tenantReady = session.isOperator
    ? tenantSelect().then((sel) => {
        inputs.tenant_id = sel;
        form.querySelector('.grid').prepend(field('tenant_id', 'Tenant', sel, 'operators create instances for a tenant'));
      })
    : Promise.resolve();

  // One key per attempt: a double submit cannot make two instances; a refused request (4xx)
  // created nothing, so the corrected retry gets a new key.
  let key = idempotencyKey();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await tenantReady;
    clear(general);
    const values = {
      name: inputs.name.value.trim(), memory: inputs.memory.value, shards: inputs.shards.value,
      replicas_per_shard: inputs.replicas_per_shard.value, eviction_policy: inputs.eviction_policy.value,
      snapshot_cron: inputs.snapshot_cron.value, appendonly: inputs.appendonly.checked, labels: inputs.labels.value,
      tenant_id: inputs.tenant_id ? inputs.tenant_id.value : undefined,
    };
    const { errors, body } = validateInstance(values);
    // Sent only when asked for, so the form works with an API that has no TLS fields.
    if (inputs.tls.checked) {
      body.tls = true;
      if (inputs.tls_client_auth.value !== TLS_CLIENT_AUTH_DEFAULT) body.tls_client_auth = inputs.tls_client_auth.value;
    }
    if (session.isOperator && !values.tenant_id) errors.tenant_id = 'tenant_id is required with an operator token';
    const first = showErrors(form, errors);
    if (first) {
      first.focus();
      return;
    }
    submit.disabled = true;
    try {
      const { data } = await post('/v1/instances', body, { headers: { 'Idempotency-Key': key } });
      track(data.operation, data.instance.name);
      form.remove();
      result.append(credentialsPanel(data));
      result.querySelector('h2').focus();
    } catch (err) {
      submit.disabled = false;
      if (err.status >= 400 && err.status < 500) key = idempotencyKey();
      const shown = err.field && form.querySelector(`[data-field="${err.field}"]`);
      if (shown) showErrors(form, { [err.field]: err.message }).focus();
      else general.append(errorBox(err));
    }
  });
  inputs.name.focus();
}
