// The console's shell: sign-in, the hash router (#/instances, #/instances/<id>, ...), the
// navigation. Pages are modules exporting render(main, params, session) that return a cleanup
// function (pages poll the API; leaving a page stops its timers).
import { ApiError, get, onUnauthorized, setToken, token } from './api.js';
import { announce, clear, errorBox, h } from './dom.js';
import * as ops from './ops.js';
import * as instances from './pages/instances.js';
import * as instance from './pages/instance.js';
import * as create from './pages/create.js';
import * as backups from './pages/backups.js';
import * as users from './pages/users.js';
import * as certs from './pages/certs.js';
import * as tenants from './pages/tenants.js';

const ROLE_KEY = 'dfly.role';

const routes = [
  { re: /^#\/instances\/new$/, page: create, title: 'New instance' },
  { re: /^#\/instances\/([\w-]+)\/backups$/, page: backups, title: 'Backups' },
  { re: /^#\/instances\/([\w-]+)\/users$/, page: users, title: 'Users' },
  { re: /^#\/instances\/([\w-]+)\/certificates$/, page: certs, title: 'Client certificates' },
  { re: /^#\/instances\/([\w-]+)$/, page: instance, title: 'Instance' },
  { re: /^#\/instances$/, page: instances, title: 'Instances' },
  { re: /^#\/tenants(?:\/([\w-]+))?$/, page: tenants, title: 'Tenants and tokens', operator: true },
];

let cleanup = null;
let signingIn = false; // a 401 while signing in is an answer, not a sign-out

function session() {
  return { isOperator: sessionStorage.getItem(ROLE_KEY) === 'operator' };
}

// The token's role: an operator token may list tenants, a tenant token gets 403 there.
async function probeRole() {
  try {
    await get('/v1/tenants?limit=1');
    return 'operator';
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return 'tenant';
    throw err;
  }
}

function signOut(reason) {
  setToken(null);
  sessionStorage.removeItem(ROLE_KEY);
  ops.clearAll();
  if (location.hash !== '#/signin') location.hash = '#/signin';
  else route();
  if (reason) announce(reason);
}

function renderSignIn(main, message) {
  const input = h('input#token', { type: 'password', autocomplete: 'current-password', required: true, spellcheck: 'false', 'aria-describedby': 'token-help' });
  const status = h('div', { 'aria-live': 'polite' }, message ? errorBox(message) : null);
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form.card.signin', { 'aria-labelledby': 'signin-title' },
    h('h1#signin-title', { tabindex: '-1' }, 'Sign in'),
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p#token-help.help', {}, 'An operator token (operator.token in the data directory) or a tenant token. It is kept for this tab only.'),
    status,
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const t = input.value.trim();
    if (!t) return;
    submit.disabled = true;
    setToken(t);
    signingIn = true;
    try {
      sessionStorage.setItem(ROLE_KEY, await probeRole());
      signingIn = false;
      location.hash = '#/instances';
    } catch (err) {
      signingIn = false;
      setToken(null);
      clear(status).append(errorBox(err.status === 401 ? 'That token is not valid or has been revoked.' : err));
      submit.disabled = false;
      input.focus();
    }
  });
  main.append(form);
  input.focus();
}

function updateChrome() {
  const signedIn = !!token();
  const s = session();
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('signout').hidden = !signedIn;
  document.getElementById('nav-tenants').hidden = !s.isOperator;
  document.getElementById('who').textContent = signedIn ? (s.isOperator ? 'operator' : 'tenant') : '';
  for (const a of document.querySelectorAll('#nav a')) {
    const here = location.hash.startsWith(a.getAttribute('href'));
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function route() {
  if (cleanup) cleanup();
  cleanup = null;
  const main = clear(document.getElementById('main'));
  if (!token()) {
    if (location.hash !== '#/signin') history.replaceState(null, '', '#/signin');
    updateChrome();
    document.title = 'Sign in — dfly console';
    renderSignIn(main);
    return;
  }
  if (!location.hash || location.hash === '#/' || location.hash === '#/signin') {
    history.replaceState(null, '', '#/instances');
  }
  updateChrome();
  const s = session();
  const r = routes.find((x) => x.re.test(location.hash));
  if (!r || (r.operator && !s.isOperator)) {
    main.append(h('h1', { tabindex: '-1' }, 'Not found'), h('p', {}, h('a', { href: '#/instances' }, 'Back to instances')));
    return;
  }
  document.title = `${r.title} — dfly console`;
  const params = location.hash.match(r.re).slice(1);
  cleanup = r.page.render(main, params, s) || null;
  const h1 = main.querySelector('h1');
  if (h1) {
    h1.tabIndex = -1;
    h1.focus({ preventScroll: true });
  }
}

onUnauthorized(() => {
  if (!signingIn) signOut('Signed out: the token is no longer valid.');
});
window.addEventListener('hashchange', route);
document.getElementById('signout').addEventListener('click', () => signOut('Signed out.'));
route();
