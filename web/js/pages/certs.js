// An instance's client certificates (instances with TLS): issue one (its certificate and private
// key are shown once, to copy or download), list them, revoke one (the nodes refuse it from then
// on, through the CA's revocation list).
import { del, get, idempotencyKey, listAll, post } from '../api.js';
import { badge, clear, confirmDialog, copyArea, errorBox, h, instanceErrorBox, runAction, saveBlob, timeEl } from '../dom.js';
import { field, showErrors } from '../form.js';

const POLL_MS = 5000;
const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
const DAYS_MIN = 1;
const DAYS_MAX = 825;
const DAYS_DEFAULT = 365;
const PEM_TYPE = 'application/x-pem-file';

function certsPath(id, certId = '') {
  return `/v1/instances/${encodeURIComponent(id)}/client-certificates${certId ? '/' + encodeURIComponent(certId) : ''}`;
}

function validateCert(name, days) {
  const errors = {};
  if (!NAME_RE.test(name)) errors.name = 'name must be 1 to 64 characters of A-Z a-z 0-9 . _ -';
  const d = Number(days);
  if (!/^[0-9]+$/.test(String(days).trim()) || d < DAYS_MIN || d > DAYS_MAX) errors.days = `days must be an integer ${DAYS_MIN} to ${DAYS_MAX}`;
  return { errors, body: { name, days: d } };
}

// The shown-once panel of an issued certificate: PEMs to copy or download.
function issuedPanel(c) {
  const save = (text, file) => () => saveBlob(new Blob([text], { type: PEM_TYPE }), file);
  return h('section.card.credentials', { 'aria-labelledby': 'issued-title' },
    h('h2#issued-title', { tabindex: '-1' }, `Client certificate ${c.name}`),
    h('p', {}, `Valid until ${new Date(c.not_after).toLocaleString()}. The private key is shown only now: keep it. Clients use it with the CA bundle, e.g. redis-cli --tls --cacert dfly-ca.pem --cert ${c.name}.crt --key ${c.name}.key.`),
    h('div.actions', {},
      h('button.secondary', { type: 'button', onclick: save(c.certificate, `${c.name}.crt`) }, 'Download certificate'),
      h('button.secondary', { type: 'button', onclick: save(c.private_key, `${c.name}.key`) }, 'Download private key'),
      h('button.secondary', { type: 'button', onclick: save(c.ca, 'dfly-ca.pem') }, 'Download CA bundle')),
    copyArea('Certificate', c.certificate),
    copyArea('Private key', c.private_key));
}

export function render(main, [id], _session) {
  let alive = true;
  let timer = null;
  let inst = null;
  let shown = null;
  const title = h('h1', {}, 'Client certificates');
  const msg = h('div', { 'aria-live': 'polite' });
  const tlsOff = h('p.help', { hidden: true }, 'TLS is off for this instance: turn it on from the instance page to issue client certificates.');
  const issued = h('div');
  const count = h('p.count');
  const body = h('tbody');
  const inputs = {
    name: h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', maxlength: 64 }),
    days: h('input', { type: 'number', min: DAYS_MIN, max: DAYS_MAX, value: DAYS_DEFAULT }),
  };
  const general = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Issue certificate');
  const form = h('form.card', { novalidate: true, 'aria-labelledby': 'new-cert-title' },
    h('h2#new-cert-title', {}, 'New client certificate'),
    h('div.grid', {},
      field('name', 'Name (the certificate\'s CN)', inputs.name, 'A-Z a-z 0-9 . _ -, up to 64 characters'),
      field('days', 'Valid for (days)', inputs.days, `${DAYS_MIN} to ${DAYS_MAX}`)),
    general, h('div.actions', {}, submit));
  let key = idempotencyKey();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(general);
    const { errors, body: req } = validateCert(inputs.name.value.trim(), inputs.days.value);
    const first = showErrors(form, errors);
    if (first) return first.focus();
    submit.disabled = true;
    try {
      const { data } = await post(certsPath(id), req, { headers: { 'Idempotency-Key': key } });
      key = idempotencyKey();
      inputs.name.value = '';
      issued.replaceChildren(issuedPanel(data));
      issued.querySelector('h2').focus();
      load();
    } catch (err) {
      if (err.status >= 400 && err.status < 500) key = idempotencyKey();
      const at = err.field && form.querySelector(`[data-field="${err.field}"]`);
      if (at) showErrors(form, { [err.field]: err.message }).focus();
      else general.append(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  });

  const revoke = async (c) => {
    if (!(await confirmDialog({ title: `Revoke ${c.name}?`, body: 'The nodes refuse this certificate from now on. This cannot be undone.', confirmLabel: 'Revoke' }))) return;
    await runAction(msg, () => del(certsPath(id, c.id)), load);
  };
  const row = (c) => h('tr', { dataset: { cert: c.id, name: c.name, revoked: String(c.revoked) } },
    h('th', { scope: 'row' }, c.name),
    h('td.mono.wrap', {}, c.serial),
    h('td', {}, timeEl(c.not_before)),
    h('td', {}, timeEl(c.not_after)),
    h('td', {}, badge(c.revoked ? 'revoked' : 'valid')),
    h('td.rowactions', {}, c.revoked ? null
      : h('button.danger', { type: 'button', 'aria-label': `Revoke ${c.name}`, onclick: () => revoke(c) }, 'Revoke…')));

  main.append(
    h('div.pagehead', {}, title, h('a.button.secondary', { href: `#/instances/${id}` }, 'Back to the instance')),
    msg, tlsOff, issued, form, count,
    h('div.tablewrap', {}, h('table.list#certs-table', {},
      h('caption.visually-hidden', {}, 'Client certificates'),
      h('thead', {}, h('tr', {}, ['Name', 'Serial', 'Valid from', 'Valid until', 'Status', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      body)));

  const load = async () => {
    clearTimeout(timer);
    try {
      inst = (await get(`/v1/instances/${encodeURIComponent(id)}`)).data;
      if (!alive) return;
      title.textContent = `Client certificates of ${inst.name}`;
      // Without TLS there is nothing to issue (the API answers 409): say so instead.
      form.hidden = !inst.tls;
      tlsOff.hidden = !!inst.tls;
      const items = await listAll(certsPath(id));
      if (!alive) return;
      const json = JSON.stringify(items);
      if (json !== shown) {
        shown = json;
        body.replaceChildren(...items.map(row));
        count.textContent = items.length ? `${items.length} certificate(s)` : 'No client certificates yet.';
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
