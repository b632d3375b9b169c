// End-to-end run of the web console in headless Chromium (playwright-core), driven by
// test_console.py, which starts dfly-control and talks to this script over stdio:
//   stdout: one JSON object per line: {"step": name} as it goes, {"need": "load", ...} when it
//           wants the test to write keys to the instance, {"need": "auth", ...} when it wants
//           the test to check (with redis-py) whether a user's password is accepted by the
//           node, {"need": "tls", ...} to connect with TLS trusting the downloaded CA bundle,
//           and {"done": true, ...} at the end;
//   stdin:  "loaded\n" once the keys are written; "ok\n" or "fail <why>\n" after a check.
// Environment: CONSOLE_URL, OPERATOR_TOKEN, ARTIFACTS (screenshot directory), PLAYWRIGHT (the
// playwright-core directory), CHROMIUM, WITH_FAILOVER (1 when the server can replicate).
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT);

const URL_BASE = process.env.CONSOLE_URL;
const OPERATOR = process.env.OPERATOR_TOKEN;
const ARTIFACTS = process.env.ARTIFACTS;
const WITH_FAILOVER = process.env.WITH_FAILOVER === '1';
const VIEWPORT = { width: 1280, height: 800 }; // a laptop screen
const SMALL_VIEWPORT = { width: 1024, height: 700 }; // a small one
const STEP_TIMEOUT = 15000;
const SETTLE_MS = 3000;
const RUNNING_TIMEOUT = 90000;
const TENANT = 'web-acme';
const INSTANCE = 'web-cache';
const ACL_USER = 'web-app';
const TLS_INSTANCE = 'web-tls';
const CLIENT_CERT = 'web-client';
const PEM_CERT = '-----BEGIN CERTIFICATE-----';
const CHART_POINTS_MIN = 3; // points a chart of the metrics API must show after the load

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once('line', resolve));

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}

// Console errors: none are allowed except the HTTP errors a step provokes on purpose.
const consoleErrors = [];
let allowedStatus = null;
let phase = 'start';

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function step(name) {
  phase = name;
  emit({ step: name });
}

// Every form control has a label (or an aria-label), and nothing overflows the laptop width.
async function checkPage(page, name) {
  const unlabeled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.type !== 'hidden' && el.offsetParent !== null)
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
      .map((el) => el.outerHTML));
  check(unlabeled.length === 0, `${name}: controls without a label: ${unlabeled.join(' ')}`);
  // Charts follow their width a frame after a resize: give the layout a moment to settle.
  const fits = () => document.documentElement.scrollWidth <= window.innerWidth;
  await page.waitForFunction(fits, null, { timeout: SETTLE_MS }).catch(() => {});
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `${name}: the page is ${overflow}px wider than the window`);
  await shot(page, name);
}

// Waits until the Operations panel shows the instance's operation of this kind succeeded.
async function waitOpsDone(page, kind) {
  await page.locator(`#ops li.op[data-kind="${kind}"]`, { hasText: INSTANCE }).last().waitFor();
  await page.waitForFunction(
    ([k, name]) => [...document.querySelectorAll('#ops li.op')].some((li) => li.dataset.kind === k && li.textContent.includes(name) && li.dataset.status === 'succeeded'),
    [kind, INSTANCE], { timeout: RUNNING_TIMEOUT });
}

// Asks the test to check with redis-py that user/password authenticates on the node (or, with
// accepted false, that it is refused); the test retries while the reconciler pushes the users.
async function checkAuth(endpoint, user, password, accepted) {
  emit({ need: 'auth', ...endpoint, user, password, accepted });
  const answer = (await nextLine()).trim();
  check(answer === 'ok', `${user} ${accepted ? 'authenticates' : 'is refused'}: ${answer}`);
}

async function readPassword(page, user) {
  const pw = await page.getByLabel(`Password of ${user}`, { exact: true }).inputValue();
  check(pw.length >= 8, `the password of ${user} is shown once`);
  return pw;
}

// The users page: a bad rule (the node's 422 at the field), create with a generated password,
// edit rules, disable and enable, rotate and finish the rotation, delete; each checked on the node.
async function usersPage(page, endpoint) {
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByRole('heading', { name: `Users of ${INSTANCE}` }).waitFor();
  await page.getByText('No users besides default yet.').waitFor();
  allowedStatus = 422;
  await page.getByLabel('Username').fill(ACL_USER);
  await page.getByLabel('Rules', { exact: true }).fill('~web:* +@all +nosuchcommand');
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.locator('[data-field="rules"] .field-error', { hasText: 'nosuchcommand' }).waitFor();
  check(await page.getByLabel('Rules', { exact: true }).getAttribute('aria-invalid') === 'true', 'the bad rule marks its field');
  allowedStatus = null;
  await checkPage(page, '14-users-rule-error');
  await page.getByLabel('Rules', { exact: true }).fill('~web:* +@all');
  await page.getByRole('button', { name: 'Create user' }).click();
  const first = await readPassword(page, ACL_USER);
  const row = page.locator(`#users-table tr[data-user="${ACL_USER}"]`);
  await row.waitFor();
  await checkPage(page, '15-users-created');
  await checkAuth(endpoint, ACL_USER, first, true);

  await row.getByRole('button', { name: `Edit rules of ${ACL_USER}` }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Rules').fill('~web:* +@read');
  await dialog.getByRole('button', { name: 'Save rules' }).click();
  await dialog.waitFor({ state: 'detached' });
  await row.locator('td', { hasText: '+@read' }).waitFor();
  await row.getByRole('button', { name: `Disable ${ACL_USER}` }).click();
  await page.locator(`#users-table tr[data-user="${ACL_USER}"][data-enabled="false"]`).waitFor();
  await checkAuth(endpoint, ACL_USER, first, false);
  await row.getByRole('button', { name: `Enable ${ACL_USER}` }).click();
  await page.locator(`#users-table tr[data-user="${ACL_USER}"][data-enabled="true"]`).waitFor();

  await row.getByRole('button', { name: `Rotate the password of ${ACL_USER}` }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Rotate password' }).click();
  await page.getByRole('heading', { name: `New password of ${ACL_USER}` }).waitFor();
  const second = await readPassword(page, ACL_USER);
  check(second !== first, 'the rotation makes a new password');
  await page.locator(`#users-table tr[data-user="${ACL_USER}"][data-rotating="true"]`).waitFor();
  await checkPage(page, '16-users-rotating');
  await checkAuth(endpoint, ACL_USER, second, true);
  await checkAuth(endpoint, ACL_USER, first, true); // the old one during the grace period
  await row.getByRole('button', { name: `Finish the rotation of ${ACL_USER}` }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Finish rotation' }).click();
  await page.locator(`#users-table tr[data-user="${ACL_USER}"][data-rotating="false"]`).waitFor();
  await checkAuth(endpoint, ACL_USER, first, false);
  await checkAuth(endpoint, ACL_USER, second, true);

  await row.getByRole('button', { name: `Delete ${ACL_USER}` }).click();
  const del = page.getByRole('dialog');
  await del.getByLabel(`Type ${ACL_USER} to confirm`).fill(ACL_USER);
  await del.getByRole('button', { name: 'Delete user' }).click();
  await row.waitFor({ state: 'detached' });
  await checkAuth(endpoint, ACL_USER, second, false);
  await page.getByRole('link', { name: 'Back to the instance' }).click();
  await page.locator('.pagehead .badge', { hasText: 'running' }).waitFor();
}

// Deletes the instance shown on the page (typed confirmation) and waits until it is gone.
async function deleteInstance(page, name) {
  await page.getByRole('button', { name: 'Delete…' }).click();
  const dialog = page.getByRole('dialog');
  const confirm = dialog.getByRole('button', { name: 'Delete instance' });
  check(await confirm.isDisabled(), 'delete needs the typed name');
  await dialog.getByLabel(`Type ${name} to confirm`).fill(name);
  await confirm.click();
  await page.getByRole('heading', { name: 'Instances' }).waitFor();
  await page.waitForFunction((n) => [...document.querySelectorAll('#ops li.op')].some((li) => li.dataset.kind === 'delete' && li.textContent.includes(n) && li.dataset.status === 'succeeded'),
    name, { timeout: RUNNING_TIMEOUT });
  await page.locator('#instances-table').getByRole('link', { name }).waitFor({ state: 'detached', timeout: RUNNING_TIMEOUT });
}

// The client certificates page: one issued (PEMs shown once), listed, revoked.
async function clientCertificates(page) {
  await page.getByRole('link', { name: 'Client certificates' }).click();
  await page.getByRole('heading', { name: `Client certificates of ${TLS_INSTANCE}` }).waitFor();
  await page.getByLabel("Name (the certificate's CN)").fill(CLIENT_CERT);
  await page.getByLabel('Valid for (days)').fill('30');
  await page.getByRole('button', { name: 'Issue certificate' }).click();
  check((await page.getByLabel('Certificate', { exact: true }).inputValue()).startsWith(PEM_CERT), 'the client certificate is shown once');
  check((await page.getByLabel('Private key', { exact: true }).inputValue()).includes('PRIVATE KEY'), 'its private key is shown once');
  const row = page.locator(`#certs-table tr[data-name="${CLIENT_CERT}"][data-revoked="false"]`);
  await row.waitFor();
  await checkPage(page, '18-client-certificates');
  await row.getByRole('button', { name: `Revoke ${CLIENT_CERT}` }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
  await page.locator(`#certs-table tr[data-name="${CLIENT_CERT}"][data-revoked="true"]`).waitFor();
  await page.getByRole('link', { name: 'Back to the instance' }).click();
  await page.locator('.pagehead .badge', { hasText: 'running' }).waitFor();
}

// An instance made with the form's TLS box: a rediss:// URI, its certificate, the CA bundle
// downloaded (checked by the test with a redis-py TLS connection that trusts only it).
async function tlsInstance(page) {
  await page.getByRole('link', { name: 'New instance' }).click();
  await chooseTenant(page);
  await page.getByLabel('Name').fill(TLS_INSTANCE);
  await page.getByLabel('TLS', { exact: true }).check();
  await page.getByRole('button', { name: 'Create instance' }).click();
  const password = await page.getByLabel('Password', { exact: true }).inputValue();
  await page.getByRole('link', { name: `Go to ${TLS_INSTANCE}` }).click();
  await page.locator('.pagehead .badge', { hasText: 'running' }).waitFor({ timeout: RUNNING_TIMEOUT });
  const uri = await page.getByLabel('URI', { exact: true }).inputValue();
  check(uri.startsWith('rediss://default@'), `a TLS instance has a rediss:// URI (${uri})`);
  check((await page.getByLabel('redis-cli', { exact: true }).inputValue()).includes('--tls --cacert'), 'redis-cli gets --tls');
  await page.locator('#certificate dd').first().waitFor();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download CA bundle' }).click(),
  ]);
  check(download.suggestedFilename().endsWith('.pem'), 'the CA bundle is a .pem file');
  const ca = path.join(ARTIFACTS, 'dfly-ca.pem');
  await download.saveAs(ca);
  check((await import('node:fs')).readFileSync(ca, 'utf8').startsWith(PEM_CERT), 'the CA bundle is a PEM certificate');
  await checkPage(page, '17-tls-instance');
  const [host, port] = uri.replace('rediss://default@', '').split(':');
  emit({ need: 'tls', host, port: Number(port), password, ca });
  const answer = (await nextLine()).trim();
  check(answer === 'ok', `a TLS client trusting the CA bundle connects: ${answer}`);
  await clientCertificates(page);
  // TLS off again, from the instance page: the URI goes back to redis://.
  await page.getByLabel('TLS', { exact: true }).uncheck();
  await page.getByRole('button', { name: 'Save TLS settings' }).click();
  await page.getByLabel('URI', { exact: true }).and(page.locator('[value^="redis://"]')).waitFor({ timeout: RUNNING_TIMEOUT });
  check(await page.getByRole('button', { name: 'Download CA bundle' }).isHidden(), 'no CA bundle without TLS');
  await deleteInstance(page, TLS_INSTANCE);
}

async function chooseTenant(page) {
  const value = await page.locator('#f-tenant_id option', { hasText: TENANT }).getAttribute('value');
  await page.getByLabel('Tenant').selectOption(value);
}

async function run() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (allowedStatus && text.includes(`status of ${allowedStatus}`)) return;
    consoleErrors.push(`[${phase}] ${text}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`[${phase}] uncaught: ${err.message}`));
  const leaks = [];
  let tenantSecret = null;
  page.on('request', (req) => {
    if (req.url().includes(OPERATOR) || (tenantSecret && req.url().includes(tenantSecret))) leaks.push(req.url());
  });

  try {
    await step('signin');
    const resp = await page.goto(URL_BASE + '/');
    check(resp.headers()['content-security-policy'].includes("script-src 'self'"), 'CSP on the console');
    await page.getByLabel('API token').waitFor();
    await checkPage(page, '01-signin');
    allowedStatus = 401;
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('not valid or has been revoked').waitFor();
    allowedStatus = null;
    await page.getByLabel('API token').fill(OPERATOR);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Instances' }).waitFor();
    check(!page.url().includes(OPERATOR), 'the token is not in the URL');
    check(await page.evaluate(() => sessionStorage.getItem('dfly.token')) === OPERATOR, 'the token is in sessionStorage');
    check(await page.evaluate(() => localStorage.length) === 0, 'nothing in localStorage');
    await checkPage(page, '02-instances-empty');

    await step('tenants');
    await page.getByRole('link', { name: 'Tenants and tokens' }).click();
    await page.getByLabel('Name').fill(TENANT);
    await page.getByLabel('Max instances').fill('5');
    await page.getByLabel('Max memory').fill('1gb');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.locator('#tenants-table').getByRole('link', { name: TENANT }).click();
    await page.getByRole('heading', { name: `Tokens of ${TENANT}` }).waitFor();
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.getByLabel('Token', { exact: true }).inputValue();
    check(secret.length > 16, 'a token secret is shown once');
    tenantSecret = secret;
    await page.locator('#tokens-table tbody tr').first().waitFor();
    await checkPage(page, '03-tokens');
    await page.getByRole('link', { name: 'All tenants' }).click();
    await page.locator('#tenants-table tbody tr').first().waitFor();
    await checkPage(page, '04-tenants');

    await step('create');
    await page.getByRole('link', { name: 'Instances' }).click();
    await page.getByRole('link', { name: 'New instance' }).click();
    await page.getByLabel('Tenant').waitFor();
    await page.getByLabel('Name').fill('Bad_Name');
    await page.getByLabel('Memory (whole instance)').fill('lots');
    await page.getByRole('button', { name: 'Create instance' }).click();
    await page.locator('[data-field="name"] .field-error', { hasText: 'name must be' }).waitFor();
    await page.locator('[data-field="memory"] .field-error', { hasText: 'memory must be' }).waitFor();
    await page.locator('[data-field="tenant_id"] .field-error', { hasText: 'tenant_id' }).waitFor();
    check(await page.getByLabel('Name').getAttribute('aria-invalid') === 'true', 'aria-invalid on a bad field');
    await checkPage(page, '05-create-errors');
    await chooseTenant(page);
    await page.getByLabel('Name').fill(INSTANCE);
    await page.getByLabel('Memory (whole instance)').fill('64mb');
    await page.getByLabel('Replicas per shard').fill(WITH_FAILOVER ? '1' : '0');
    await page.getByLabel('Labels').fill('env=test\nteam=web');
    check(await page.getByLabel('Client certificates').isDisabled(), 'client certificates need TLS');
    await page.getByLabel('TLS', { exact: true }).check();
    check(await page.getByLabel('Client certificates').isEnabled(), 'TLS enables client certificates');
    await page.getByLabel('TLS', { exact: true }).uncheck(); // this run's redis-py speaks plain TCP
    await page.getByRole('button', { name: 'Create instance' }).click();
    const password = await page.getByLabel('Password', { exact: true }).inputValue();
    check(password.length > 8, 'the password is shown once');
    await page.locator('#ops li.op[data-kind="create"]', { hasText: INSTANCE }).waitFor();
    await checkPage(page, '06-created');

    await step('duplicate');
    // The API's own errors show at their field: a second instance of the same name is refused.
    await page.getByRole('link', { name: 'Instances' }).click();
    await page.getByRole('link', { name: 'New instance' }).click();
    await chooseTenant(page);
    await page.getByLabel('Name').fill(INSTANCE);
    allowedStatus = 409;
    await page.getByRole('button', { name: 'Create instance' }).click();
    await page.locator('.error, .field-error', { hasText: /exists|taken|already/ }).first().waitFor();
    allowedStatus = null;
    await shot(page, '07-create-api-error');

    await step('running');
    await page.getByRole('link', { name: 'Instances' }).click();
    await page.locator('#search').fill('team=web');
    await page.locator('#instances-table').getByRole('link', { name: INSTANCE }).waitFor();
    await page.locator('#status-filter').selectOption('failed');
    await page.locator('#instances-table tbody tr').first().waitFor({ state: 'detached' });
    await page.locator('#status-filter').selectOption('');
    await page.locator('#instances-table').getByRole('link', { name: INSTANCE }).click();
    await page.locator('.pagehead .badge', { hasText: 'running' }).waitFor({ timeout: RUNNING_TIMEOUT });
    const nodes = await page.locator('#nodes-table tbody tr').count();
    check(nodes === (WITH_FAILOVER ? 2 : 1), `the instance shows its nodes (${nodes})`);
    const uri = await page.getByLabel('URI', { exact: true }).inputValue();
    check(uri.startsWith('redis://default@'), 'the URI is shown');
    await page.locator('#events li').first().waitFor();
    await checkPage(page, '08-instance');
    await page.setViewportSize(SMALL_VIEWPORT);
    await checkPage(page, '08-instance-small');
    await page.setViewportSize(VIEWPORT);

    await step('load');
    const [host, port] = uri.replace('redis://default@', '').split(':');
    const endpoint = { host, port: Number(port) };
    emit({ need: 'load', ...endpoint, password });
    check((await nextLine()).trim() === 'loaded', 'the test wrote keys');
    // The scraper's points reach the charts: ops/s, memory, clients and the hit ratio of the
    // reads the test made (and the lag of the replica, when there is one).
    const charted = WITH_FAILOVER ? ['ops', 'memory', 'hits', 'clients', 'lag'] : ['ops', 'memory', 'hits', 'clients'];
    // (A hit ratio exists only while there are reads: the test's burst makes one point or two.)
    const enough = ([keys, min]) => keys.every((k) => Number(document.querySelector(`figure.chart[data-chart="${k}"]`)?.dataset.points || 0) >= (k === 'hits' ? 1 : min));
    await page.waitForFunction(enough, [charted, CHART_POINTS_MIN], { timeout: RUNNING_TIMEOUT });
    check(await page.locator('figure.chart canvas').count() >= charted.length, 'charts are drawn');
    await page.locator('figure.chart[data-chart="ops"]').scrollIntoViewIfNeeded();
    await checkPage(page, '09-charts');

    await step('users');
    await usersPage(page, endpoint);

    await step('list-metrics');
    // The list shows memory in use against the limit and ops/s, from the metrics API.
    await page.getByRole('link', { name: 'Instances' }).click();
    const listed = page.locator('#instances-table tbody tr', { hasText: INSTANCE });
    await listed.locator('td', { hasText: / of 64 MiB$/ }).waitFor();
    await checkPage(page, '10-instances-metrics');
    await listed.getByRole('link', { name: INSTANCE }).click();
    await page.locator('.pagehead .badge', { hasText: 'running' }).waitFor();

    await step('resize');
    await page.getByLabel('Memory', { exact: true }).fill('96mb');
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitOpsDone(page, 'update');
    await page.locator('.pagehead .meta', { hasText: '96 MiB' }).waitFor();

    await step('restart');
    await page.getByRole('button', { name: 'Restart' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Restart' }).click();
    await waitOpsDone(page, 'restart');

    if (WITH_FAILOVER) {
      await step('failover');
      await page.getByRole('button', { name: 'Failover' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Fail over' }).click();
      await waitOpsDone(page, 'failover');
      await page.locator('#events li[data-type="failover"]').first().waitFor({ timeout: RUNNING_TIMEOUT });
      await shot(page, '10-failover');
    }

    await step('backup');
    await page.getByRole('link', { name: 'Backups' }).click();
    await page.getByRole('heading', { name: `Backups of ${INSTANCE}` }).waitFor();
    await page.getByRole('button', { name: 'Take a backup now' }).click();
    await page.locator('#backups-table tr[data-status="succeeded"]').first().waitFor({ timeout: RUNNING_TIMEOUT });
    await checkPage(page, '11-backups');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#backups-table tr[data-status="succeeded"]').first().getByRole('button', { name: /^Download/ }).click(),
    ]);
    check(download.suggestedFilename().endsWith('.rdb'), 'a backup downloads as an .rdb file');
    const rdb = await download.path();
    check(rdb && (await import('node:fs')).readFileSync(rdb).subarray(0, 5).toString() === 'REDIS', 'the download is an RDB file');

    await step('delete');
    await page.getByRole('link', { name: 'Back to the instance' }).click();
    await deleteInstance(page, INSTANCE);
    await checkPage(page, '12-deleted');

    await step('tls');
    await tlsInstance(page);

    await step('signout');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    check(await page.evaluate(() => sessionStorage.getItem('dfly.token')) === null, 'sign-out forgets the token');

    await step('tenant');
    // A tenant token: no operator pages (the role is learnt from a 403 on the tenant list).
    allowedStatus = 403;
    await page.getByLabel('API token').fill(secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Instances' }).waitFor();
    allowedStatus = null;
    check(await page.getByRole('link', { name: 'Tenants and tokens' }).isHidden(), 'tenants hide the operator view');
    await checkPage(page, '13-tenant-view');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    check(leaks.length === 0, `the token went into a URL: ${leaks.join(' ')}`);
    check(consoleErrors.length === 0, `browser console errors: ${consoleErrors.join(' | ')}`);
    emit({ done: true, ok: true });
  } catch (err) {
    await shot(page, `failed-${phase}`).catch(() => {});
    emit({ done: true, ok: false, phase, error: String(err && err.stack ? err.stack : err), consoleErrors });
  } finally {
    await browser.close();
    lines.close();
  }
}

run();
