// Client-side checks that mirror the API's (controlplane/api/instance_validate.c), so that most
// mistakes are shown before a request; the API stays the judge and its errors are shown too.

export const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const LABEL_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
const LABELS_MAX = 32;
const LABEL_VALUE_MAX = 255;
export const SHARDS_MIN = 1;
export const SHARDS_MAX = 64;
export const REPLICAS_MAX = 2;
const MIB = 1024 * 1024;
const MEMORY_PER_SHARD_MIN = MIB;
const MEMORY_MAX = 1024 * 1024 * MIB; // 1tb
export const EVICTION_POLICIES = ['noeviction', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random',
  'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'];

// dfly-server's --tls_auth_clients values (the API's tls_client_auth), with what they mean.
export const TLS_CLIENT_AUTH = [['no', 'not asked for'], ['optional', 'optional (checked when given)'], ['yes', 'required']];
export const TLS_CLIENT_AUTH_DEFAULT = 'no';

// Redis's units, as the API reads them (common/flags.c): k = 1000, kb = 1024, ...
const UNITS = { b: 1, k: 1e3, kb: 1024, m: 1e6, mb: MIB, g: 1e9, gb: 1024 * MIB, t: 1e12, tb: 1024 * 1024 * MIB };

export function parseBytes(s) {
  const m = String(s).trim().match(/^([0-9]+(?:\.[0-9]*)?)([a-z]*)$/i);
  if (!m) return null;
  const unit = m[2].toLowerCase();
  if (!unit) return m[1].includes('.') ? null : Number(m[1]);
  if (!(unit in UNITS)) return null;
  return Math.floor(Number(m[1]) * UNITS[unit]);
}

function intIn(v, lo, hi) {
  return /^[0-9]+$/.test(String(v).trim()) && Number(v) >= lo && Number(v) <= hi;
}

// "k=v" per line (or comma separated) into an object; throws a message on a bad entry.
export function parseLabels(text) {
  const labels = {};
  for (const part of text.split(/[\n,]/).map((x) => x.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`label '${part}' must be key=value`);
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (!LABEL_KEY_RE.test(k)) throw new Error(`label key '${k}' must be 1 to 63 of A-Z a-z 0-9 . _ / -, starting with a letter or digit`);
    if (new TextEncoder().encode(v).length > LABEL_VALUE_MAX) throw new Error(`label '${k}' must be a string of at most ${LABEL_VALUE_MAX} bytes`);
    labels[k] = v;
  }
  if (Object.keys(labels).length > LABELS_MAX) throw new Error(`labels must be at most ${LABELS_MAX}`);
  return labels;
}

// The form's values -> {errors: {field: message}, body}. Field names are the API's.
export function validateInstance(v, { create = true } = {}) {
  const errors = {};
  const body = {};
  if (create || v.name !== undefined) {
    if (!NAME_RE.test(v.name || '')) errors.name = 'name must be 1 to 63 characters of a-z, 0-9 and \'-\', starting with a letter or digit';
    else body.name = v.name;
  }
  const shards = create ? Number(v.shards || 1) : null;
  if (create && !intIn(v.shards || '1', SHARDS_MIN, SHARDS_MAX)) errors.shards = `shards must be an integer ${SHARDS_MIN} to ${SHARDS_MAX}`;
  else if (create) body.shards = shards;
  if (v.replicas_per_shard !== undefined) {
    if (!intIn(v.replicas_per_shard, 0, REPLICAS_MAX)) errors.replicas_per_shard = `replicas_per_shard must be an integer 0 to ${REPLICAS_MAX}`;
    else body.replicas_per_shard = Number(v.replicas_per_shard);
  }
  if (create || v.memory !== undefined) {
    const mem = parseBytes(v.memory || '');
    if (mem === null || mem < MEMORY_PER_SHARD_MIN || mem > MEMORY_MAX) errors.memory = 'memory must be bytes (an integer, or a size such as "1gb") from 1mb to 1tb';
    else if (create && !errors.shards && mem < MEMORY_PER_SHARD_MIN * shards) errors.memory = 'memory must be at least 1mb per shard';
    else body.memory = String(v.memory).trim();
  }
  if (v.eviction_policy) {
    if (!EVICTION_POLICIES.includes(v.eviction_policy)) errors.eviction_policy = 'unknown eviction policy';
    else body.eviction_policy = v.eviction_policy;
  }
  if (v.snapshot_cron !== undefined || v.appendonly !== undefined) {
    const cron = (v.snapshot_cron || '').trim();
    if (cron && cron.split(/\s+/).length !== 5) errors['persistence.snapshot_cron'] = 'snapshot_cron must be a 5-field cron expression';
    body.persistence = { snapshot_cron: cron || null, appendonly: !!v.appendonly };
  }
  if (v.labels !== undefined) {
    try {
      body.labels = parseLabels(v.labels);
    } catch (e) {
      errors.labels = e.message;
    }
  }
  if (v.tenant_id) body.tenant_id = v.tenant_id;
  return { errors, body };
}
