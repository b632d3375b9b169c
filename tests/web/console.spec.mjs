// End-to-end run of the web console in headless Chromium (playwright-core), driven by
// test_console.py, which starts dfly-control and talks to this script over stdio:
//   stdout: one JSON object per line: {"step": name} as it goes, {"need": "load", ...} when it
//           wants the test to write keys to the instance, and {"done": true, ...} at the end;
//   stdin:  "loaded\n" once the keys are written.
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
    emit({ need: 'load', host, port: Number(port), password });
    check((await nextLine()).trim() === 'loaded', 'the test wrote keys');
    await page.waitForFunction(() => [...document.querySelectorAll('figure.chart')].every((f) => Number(f.dataset.points || 0) >= 5), null, { timeout: RUNNING_TIMEOUT });
    check(await page.locator('figure.chart canvas').count() >= 3, 'charts are drawn');
    await checkPage(page, '09-charts');

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
    await page.getByRole('button', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog');
    const confirm = dialog.getByRole('button', { name: 'Delete instance' });
    check(await confirm.isDisabled(), 'delete needs the typed name');
    await dialog.getByLabel(`Type ${INSTANCE} to confirm`).fill(INSTANCE);
    await confirm.click();
    await page.getByRole('heading', { name: 'Instances' }).waitFor();
    await waitOpsDone(page, 'delete');
    await page.locator('#instances-table').getByRole('link', { name: INSTANCE }).waitFor({ state: 'detached', timeout: RUNNING_TIMEOUT });
    await checkPage(page, '12-deleted');

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
