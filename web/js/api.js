// The REST API, with the signed-in token as a bearer header. The token lives in sessionStorage
// only (gone with the tab) and never goes into a URL.

const TOKEN_KEY = 'dfly.token';

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `request failed (HTTP ${status})`);
    this.status = status;
    this.code = err.code || 'http_' + status;
    this.field = err.field || null;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// Listeners told when the API answers 401 (token revoked or wrong): the app signs out.
const unauthorizedListeners = [];
export function onUnauthorized(fn) {
  unauthorizedListeners.push(fn);
}

// One request. Resolves to {data, etag, status}; rejects with ApiError (or a network error).
export async function request(method, path, { body, headers = {}, signal, raw = false } = {}) {
  const h = { Accept: 'application/json', ...headers };
  const t = token();
  if (t) h.Authorization = 'Bearer ' + t;
  const init = { method, headers: h, signal, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (raw && resp.ok) return { blob: await resp.blob(), status: resp.status };
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    if (resp.status === 401) unauthorizedListeners.forEach((fn) => fn());
    throw new ApiError(resp.status, data);
  }
  return { data, etag: resp.headers.get('ETag'), status: resp.status };
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, body, opts = {}) => request('POST', path, { ...opts, body });
export const patch = (path, body, opts = {}) => request('PATCH', path, { ...opts, body });
export const del = (path, opts) => request('DELETE', path, opts);

// Every item of a paginated list (follows next_cursor), at most maxPages pages.
export async function listAll(path, params = {}, maxPages = 20) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const q = new URLSearchParams(params);
    q.set('limit', '100');
    if (cursor) q.set('cursor', cursor);
    const { data } = await get(`${path}?${q}`);
    items.push(...data.items);
    cursor = data.next_cursor;
    if (!cursor) break;
  }
  return items;
}

// A random Idempotency-Key, so that a retried create cannot make two instances.
export function idempotencyKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return 'console-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
