/* The schema, as numbered migrations. A migration is never edited once released: change the
 * schema by appending one. Times are Unix milliseconds (UTC). */
#include "db.h"

/* 1: tenants, tokens, instances (desired state), nodes and their ports (actual state),
 * operations, events, Idempotency-Key records. */
static const char m1_initial[] =
    "CREATE TABLE tenants ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  max_instances INTEGER NOT NULL,"
    "  max_memory INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    /* tenant_id NULL: an operator token. hash: SHA-256 of the secret, never the secret. */
    "CREATE TABLE tokens ("
    "  id TEXT PRIMARY KEY,"
    "  tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  hash TEXT NOT NULL UNIQUE,"
    "  prefix TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  last_used_at INTEGER,"
    "  revoked_at INTEGER);"
    "CREATE INDEX tokens_tenant ON tokens(tenant_id);"
    /* The desired state of an instance, plus what the reconciler reports (status, reason,
     * applied_version). spec_version counts accepted changes (it is the ETag);
     * restart_version is the spec_version of the last restart asked for. */
    "CREATE TABLE instances ("
    "  id TEXT PRIMARY KEY,"
    "  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  memory INTEGER NOT NULL,"
    "  shards INTEGER NOT NULL,"
    "  replicas INTEGER NOT NULL,"
    "  eviction_policy TEXT NOT NULL,"
    "  snapshot_cron TEXT,"
    "  appendonly INTEGER NOT NULL DEFAULT 0,"
    "  labels TEXT NOT NULL DEFAULT '{}',"
    "  password_enc BLOB NOT NULL,"
    "  delete_requested INTEGER NOT NULL DEFAULT 0,"
    "  status TEXT NOT NULL,"
    "  status_reason TEXT NOT NULL DEFAULT '',"
    "  spec_version INTEGER NOT NULL DEFAULT 1,"
    "  applied_version INTEGER NOT NULL DEFAULT 0,"
    "  restart_version INTEGER NOT NULL DEFAULT 0,"
    "  ever_running INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  deleted_at INTEGER);"
    "CREATE UNIQUE INDEX instances_name ON instances(tenant_id, name) WHERE status != 'gone';"
    "CREATE INDEX instances_tenant ON instances(tenant_id, created_at, id);"
    "CREATE INDEX instances_list ON instances(created_at, id);"
    /* A node: one dfly-server process. replica_index 0 is the shard's first master. */
    "CREATE TABLE nodes ("
    "  id TEXT PRIMARY KEY,"
    "  instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
    "  shard INTEGER NOT NULL,"
    "  replica_index INTEGER NOT NULL,"
    "  role TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  port INTEGER NOT NULL,"
    "  admin_port INTEGER NOT NULL,"
    "  cluster_id TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  pid INTEGER,"
    "  restarts INTEGER NOT NULL DEFAULT 0,"
    "  restart_version INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE(instance_id, shard, replica_index));"
    /* Every port given to a node: a port is never given twice while its node exists. */
    "CREATE TABLE ports ("
    "  port INTEGER PRIMARY KEY,"
    "  node_id TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL);"
    "CREATE INDEX ports_node ON ports(node_id);"
    "CREATE TABLE operations ("
    "  id TEXT PRIMARY KEY,"
    "  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL,"
    "  target_type TEXT NOT NULL,"
    "  target_id TEXT NOT NULL,"
    "  spec_version INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  progress INTEGER NOT NULL DEFAULT 0,"
    "  steps TEXT NOT NULL DEFAULT '[]',"
    "  error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  started_at INTEGER,"
    "  finished_at INTEGER);"
    "CREATE INDEX operations_target ON operations(target_id, status);"
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
    "  time INTEGER NOT NULL,"
    "  type TEXT NOT NULL,"
    "  from_status TEXT,"
    "  to_status TEXT,"
    "  node_id TEXT,"
    "  reason TEXT NOT NULL);"
    "CREATE INDEX events_instance ON events(instance_id, seq);"
    /* A POST with Idempotency-Key: its fingerprint and first response (encrypted: it may hold
     * a secret shown once). scope: the caller's tenant id, or 'operator'. */
    "CREATE TABLE idempotency_keys ("
    "  scope TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  fingerprint TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  response BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (scope, key));";

/* 2 (issue 15): backups and their schedules, restores, planned failovers.
 * instances.backup_schedule: JSON {"cron", "timezone"} or {"every_hours"}; backup_retention:
 * JSON {"count", "max_age_hours"}; next_backup_at: when the schedule fires next (ms).
 * restore_from: the backup a new instance starts from, restore_placed once its files are in
 * place. restore_backup_id/restore_op: an in-place restore asked for. failover_op with
 * failover_shard and failover_node: a planned failover asked for. */
static const char m2_backups_failover[] =
    "ALTER TABLE instances ADD COLUMN backup_schedule TEXT;"
    "ALTER TABLE instances ADD COLUMN backup_retention TEXT;"
    "ALTER TABLE instances ADD COLUMN next_backup_at INTEGER;"
    "ALTER TABLE instances ADD COLUMN restore_from TEXT;"
    "ALTER TABLE instances ADD COLUMN restore_placed INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE instances ADD COLUMN restore_backup_id TEXT;"
    "ALTER TABLE instances ADD COLUMN restore_op TEXT;"
    "ALTER TABLE instances ADD COLUMN failover_op TEXT;"
    "ALTER TABLE instances ADD COLUMN failover_shard INTEGER;"
    "ALTER TABLE instances ADD COLUMN failover_node TEXT;"
    /* A backup: one RDB file per shard in the backup store, described by manifest (JSON).
     * status: pending, running, succeeded, failed. Kept after its instance is deleted. */
    "CREATE TABLE backups ("
    "  id TEXT PRIMARY KEY,"
    "  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
    "  instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
    "  trigger TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT,"
    "  size INTEGER NOT NULL DEFAULT 0,"
    "  shards INTEGER NOT NULL,"
    "  manifest TEXT,"
    "  operation_id TEXT,"
    "  next_attempt_at INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  started_at INTEGER,"
    "  finished_at INTEGER);"
    "CREATE INDEX backups_instance ON backups(instance_id, created_at, id);"
    "CREATE INDEX backups_tenant ON backups(tenant_id, created_at, id);"
    "CREATE INDEX backups_status ON backups(status);";

/* 3 (online resize): slot_shards, the shard count whose even split of the slots the nodes
 * serve while a shard change is applied (NULL: the same as shards); resize_phase, how far the
 * move went (0 prepare, 1 migrating, 2 final configuration); resize_attempts, failed
 * migration attempts so far. */
static const char m3_resize[] = "ALTER TABLE instances ADD COLUMN slot_shards INTEGER;"
                                "ALTER TABLE instances ADD COLUMN resize_phase INTEGER NOT NULL "
                                "DEFAULT 0;"
                                "ALTER TABLE instances ADD COLUMN resize_attempts INTEGER NOT "
                                "NULL DEFAULT 0;";

/* 4 (issue 14): ACL users of an instance. rules: as the node normalises them (ACL LIST
 * without name, state and passwords); password_hash: SHA-256 hex of the password, never the
 * password; old_password_hash and rotation_expires_at: a rotation in progress. */
static const char m4_acl_users[] =
    "CREATE TABLE acl_users ("
    "  instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  rules TEXT NOT NULL,"
    "  enabled INTEGER NOT NULL,"
    "  password_hash TEXT NOT NULL,"
    "  old_password_hash TEXT,"
    "  rotation_expires_at INTEGER,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (instance_id, name));";

/* 5 (issue 14, metrics aggregation): metric_points, raw scraped values (kept a day);
 * metric_rollups, their sum, count, min and max per period (60000 or 3600000 ms, kept 30
 * days). node_id '' is a value of the whole instance, else of that node. No foreign key: the
 * retention pass removes points of deleted instances with the rest. */
static const char m5_metrics[] =
    "CREATE TABLE metric_points ("
    "  instance_id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  node_id TEXT NOT NULL,"
    "  ts INTEGER NOT NULL,"
    "  value REAL NOT NULL,"
    "  PRIMARY KEY (instance_id, name, node_id, ts)) WITHOUT ROWID;"
    "CREATE INDEX metric_points_ts ON metric_points(ts);"
    "CREATE TABLE metric_rollups ("
    "  instance_id TEXT NOT NULL,"
    "  period INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  node_id TEXT NOT NULL,"
    "  ts INTEGER NOT NULL,"
    "  sum REAL NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  min REAL NOT NULL,"
    "  max REAL NOT NULL,"
    "  PRIMARY KEY (instance_id, period, name, node_id, ts)) WITHOUT ROWID;"
    "CREATE INDEX metric_rollups_ts ON metric_rollups(period, ts);";

/* 6 (issue 14, alerts): per-instance thresholds (NULL: none) and webhook; firing is a bit per
 * alert kind (metrics/alerts.h) that is firing now, so a restart does not notify again. */
static const char m6_metric_alerts[] =
    "CREATE TABLE metric_alerts ("
    "  instance_id TEXT PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,"
    "  memory_share_max REAL,"
    "  hit_ratio_min REAL,"
    "  replication_lag_max_bytes REAL,"
    "  nodes_down_max REAL,"
    "  webhook_url TEXT,"
    "  firing INTEGER NOT NULL DEFAULT 0,"
    "  updated_at INTEGER NOT NULL);";

/* 7 (issue 14): the default user's password before a rotation that is still in progress,
 * sealed like instances.password_enc (the daemon authenticates to nodes as default, and a node
 * may not know the new password yet); NULL for every other user and after the rotation. */
static const char m7_acl_default_rotation[] =
    "ALTER TABLE acl_users ADD COLUMN old_password_enc BLOB;";

/* 8 (issue 14, TLS certificates: controlplane/pki/): the internal CA (one row; its key sealed
 * under the master key), instances' tls settings, each TLS instance's own CA (signed by the
 * internal CA, its self-signed twin that the nodes trust, its key sealed under the master key,
 * and its current CRL), each TLS instance's current server certificate (key sealed under
 * secret.key; rotate_requested: a rotation asked through the API, rotate_op its operation), and
 * client certificates (never their keys; revoked_at: revoked). */
static const char m8_pki[] =
    "CREATE TABLE pki_ca ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  cert_pem TEXT NOT NULL,"
    "  key_enc BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "ALTER TABLE instances ADD COLUMN tls INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE instances ADD COLUMN tls_client_auth TEXT NOT NULL DEFAULT 'no';"
    "CREATE TABLE instance_cas ("
    "  instance_id TEXT PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,"
    "  cert_pem TEXT NOT NULL,"
    "  self_pem TEXT NOT NULL,"
    "  key_enc BLOB NOT NULL,"
    "  crl_pem TEXT NOT NULL,"
    "  crl_number INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE instance_certs ("
    "  instance_id TEXT PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,"
    "  serial TEXT NOT NULL,"
    "  cert_pem TEXT NOT NULL,"
    "  key_enc BLOB NOT NULL,"
    "  sans TEXT NOT NULL,"
    "  fingerprint TEXT NOT NULL,"
    "  not_before INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL,"
    "  renew_after INTEGER NOT NULL,"
    "  rotate_requested INTEGER NOT NULL DEFAULT 0,"
    "  rotate_op TEXT,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE client_certs ("
    "  id TEXT PRIMARY KEY,"
    "  instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  serial TEXT NOT NULL UNIQUE,"
    "  not_before INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL,"
    "  revoked_at INTEGER,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX client_certs_instance ON client_certs(instance_id, created_at, id);";

const db_migration db_migrations[] = {
    {1, "initial schema", m1_initial},
    {2, "backups, restores and planned failovers", m2_backups_failover},
    {3, "online resize", m3_resize},
    {4, "ACL users", m4_acl_users},
    {5, "metrics points and rollups", m5_metrics},
    {6, "metric alert thresholds", m6_metric_alerts},
    {7, "the default user's password rotation", m7_acl_default_rotation},
    {8, "internal CA and TLS certificates", m8_pki},
    {0},
};
