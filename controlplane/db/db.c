/* SQLite connections per thread, nested transactions, statement cache, migrations. */
#include "db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define STMT_CACHE_MAX 96
#define SAVEPOINT_NAME_MAX 32
#define DB_PATH_MAX 4096

typedef struct stmt_slot {
    char *sql; /* a copy: callers may build SQL in their own buffers */
    sqlite3_stmt *st;
} stmt_slot;

typedef struct db_thread {
    sqlite3 *conn;
    int depth; /* transaction nesting */
    int nstmt;
    stmt_slot stmts[STMT_CACHE_MAX];
    struct db_thread *next;
} db_thread;

static char db_path[DB_PATH_MAX];
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static db_thread *registry;
static _Thread_local db_thread *self;

static int conn_configure(sqlite3 *c)
{
    sqlite3_busy_timeout(c, DB_BUSY_TIMEOUT_MS);
    /* synchronous=NORMAL in WAL mode survives a crash of this process (kill -9) without an
     * fsync per transaction; a power loss may lose the last transactions, never consistency. */
    static const char *const pragmas = "PRAGMA foreign_keys=ON;"
                                       "PRAGMA synchronous=NORMAL;";
    char *msg = NULL;
    if (sqlite3_exec(c, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("sqlite: %s", msg ? msg : "pragma failed");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static db_thread *thread_state(void)
{
    if (self)
        return self;
    sqlite3 *c = NULL;
    int rc = sqlite3_open_v2(db_path, &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK || conn_configure(c) < 0) {
        log_error("sqlite: cannot open %s: %s", db_path, c ? sqlite3_errmsg(c) : "no memory");
        sqlite3_close(c);
        return NULL;
    }
    db_thread *t = calloc(1, sizeof(*t));
    t->conn = c;
    pthread_mutex_lock(&registry_lock);
    t->next = registry;
    registry = t;
    pthread_mutex_unlock(&registry_lock);
    self = t;
    return t;
}

sqlite3 *db_conn(void)
{
    db_thread *t = thread_state();
    return t ? t->conn : NULL;
}

int db_exec(const char *sql)
{
    sqlite3 *c = db_conn();
    if (!c)
        return SQLITE_CANTOPEN;
    char *msg = NULL;
    int rc = sqlite3_exec(c, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        log_error("sqlite: %s (in: %.80s)", msg ? msg : sqlite3_errstr(rc), sql);
        sqlite3_free(msg);
    }
    return rc;
}

int db_begin(void)
{
    db_thread *t = thread_state();
    if (!t)
        return SQLITE_CANTOPEN;
    int rc;
    if (t->depth == 0) {
        rc = db_exec("BEGIN IMMEDIATE");
    } else {
        char sql[SAVEPOINT_NAME_MAX];
        snprintf(sql, sizeof(sql), "SAVEPOINT s%d", t->depth);
        rc = db_exec(sql);
    }
    if (rc == SQLITE_OK)
        t->depth++;
    return rc;
}

int db_commit(void)
{
    db_thread *t = self;
    if (!t || t->depth == 0)
        return SQLITE_MISUSE;
    int rc;
    if (t->depth == 1) {
        rc = db_exec("COMMIT");
        if (rc != SQLITE_OK) {
            db_exec("ROLLBACK");
            t->depth = 0;
            return rc;
        }
    } else {
        char sql[SAVEPOINT_NAME_MAX];
        snprintf(sql, sizeof(sql), "RELEASE s%d", t->depth - 1);
        rc = db_exec(sql);
    }
    t->depth--;
    return rc;
}

void db_rollback(void)
{
    db_thread *t = self;
    if (!t || t->depth == 0)
        return;
    if (t->depth == 1) {
        db_exec("ROLLBACK");
    } else {
        char sql[2 * SAVEPOINT_NAME_MAX];
        snprintf(sql, sizeof(sql), "ROLLBACK TO s%d; RELEASE s%d", t->depth - 1, t->depth - 1);
        db_exec(sql);
    }
    t->depth--;
}

int db_in_transaction(void)
{
    return self && self->depth > 0;
}

sqlite3_stmt *db_prepare(const char *sql)
{
    db_thread *t = thread_state();
    if (!t)
        return NULL;
    for (int i = 0; i < t->nstmt; i++)
        if (!strcmp(t->stmts[i].sql, sql))
            return t->stmts[i].st;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(t->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        log_error("sqlite: cannot prepare: %s (in: %.120s)", sqlite3_errmsg(t->conn), sql);
        return NULL;
    }
    if (t->nstmt < STMT_CACHE_MAX) {
        t->stmts[t->nstmt].sql = strdup(sql);
        t->stmts[t->nstmt].st = st;
        t->nstmt++;
    } else {
        /* A full cache evicts its oldest entry: every caller finishes with a statement
         * (db_done) before preparing the next one of the same kind, so none is in use. */
        sqlite3_finalize(t->stmts[0].st);
        free(t->stmts[0].sql);
        memmove(&t->stmts[0], &t->stmts[1], sizeof(stmt_slot) * (STMT_CACHE_MAX - 1));
        t->stmts[STMT_CACHE_MAX - 1].sql = strdup(sql);
        t->stmts[STMT_CACHE_MAX - 1].st = st;
    }
    return st;
}

void db_done(sqlite3_stmt *st)
{
    if (!st)
        return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

const char *db_text(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    return s ? (const char *)s : "";
}

void db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
    if (s)
        sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, idx);
}

int db_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_CONSTRAINT)
        log_error("sqlite: %s (in: %.120s)", sqlite3_errmsg(sqlite3_db_handle(st)),
                  sqlite3_sql(st));
    return rc;
}

int db_changes(void)
{
    sqlite3 *c = db_conn();
    return c ? sqlite3_changes(c) : 0;
}

int db_schema_version(void)
{
    sqlite3_stmt *st = db_prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (!st)
        return 0;
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    db_done(st);
    return v;
}

/* Applies migration m in its own transaction, recording it in schema_migrations. */
static int migration_apply(const db_migration *m, char *err, size_t errlen)
{
    if (db_begin() != SQLITE_OK) {
        snprintf(err, errlen, "cannot start migration %d", m->version);
        return -1;
    }
    char *msg = NULL;
    if (sqlite3_exec(db_conn(), m->sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "migration %d (%s) failed: %s", m->version, m->name, msg ? msg : "?");
        sqlite3_free(msg);
        db_rollback();
        return -1;
    }
    sqlite3_stmt *st = db_prepare("INSERT INTO schema_migrations(version, name, applied_at) "
                                  "VALUES (?, ?, strftime('%s','now') * 1000)");
    sqlite3_bind_int(st, 1, m->version);
    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
    int rc = db_step_done(st);
    db_done(st);
    if (rc != SQLITE_DONE || db_commit() != SQLITE_OK) {
        if (rc != SQLITE_DONE)
            db_rollback();
        snprintf(err, errlen, "cannot record migration %d", m->version);
        return -1;
    }
    log_info("database: applied migration %d (%s)", m->version, m->name);
    return 0;
}

static int migrations_run(char *err, size_t errlen)
{
    if (db_exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)") !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot create schema_migrations");
        return -1;
    }
    int have = db_schema_version();
    int newest = 0;
    for (const db_migration *m = db_migrations; m->version; m++) {
        newest = m->version;
        if (m->version > have && migration_apply(m, err, errlen) < 0)
            return -1;
    }
    if (have > newest) {
        snprintf(err, errlen,
                 "the database has schema version %d, newer than this dfly-control knows (%d)",
                 have, newest);
        return -1;
    }
    return 0;
}

int db_open(const char *path, char *err, size_t errlen)
{
    snprintf(db_path, sizeof(db_path), "%s", path);
    sqlite3 *c = NULL;
    int rc = sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, c ? sqlite3_errmsg(c) : "no memory");
        sqlite3_close(c);
        return -1;
    }
    char *msg = NULL;
    if (sqlite3_exec(c, "PRAGMA journal_mode=WAL", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot use WAL: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(c);
        return -1;
    }
    sqlite3_close(c);
    if (!db_conn()) {
        snprintf(err, errlen, "cannot open %s", path);
        return -1;
    }
    return migrations_run(err, errlen);
}

void db_close_all(void)
{
    pthread_mutex_lock(&registry_lock);
    db_thread *t = registry;
    registry = NULL;
    pthread_mutex_unlock(&registry_lock);
    while (t) {
        db_thread *next = t->next;
        for (int i = 0; i < t->nstmt; i++) {
            sqlite3_finalize(t->stmts[i].st);
            free(t->stmts[i].sql);
        }
        sqlite3_close(t->conn);
        free(t);
        t = next;
    }
    self = NULL;
}
