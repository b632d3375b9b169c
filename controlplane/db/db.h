/* The control plane's only state: one SQLite database (WAL, foreign keys on), opened once per
 * thread that uses it. Schema changes are numbered migrations (migrations.c) applied in order at
 * start, each in its own transaction.
 *
 * Threads: every thread gets its own connection (db_conn) and its own prepared-statement cache;
 * a connection is never shared. Writers serialize through SQLite's lock (BEGIN IMMEDIATE with a
 * busy timeout); readers never wait for writers (WAL). */
#ifndef DFLY_CONTROL_DB_H
#define DFLY_CONTROL_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define DB_FILE_NAME "control.db"
#define DB_BUSY_TIMEOUT_MS 10000

typedef struct db_migration {
    int version;
    const char *name;
    const char *sql;
} db_migration;

/* Migrations in ascending version order, ending with {0}. */
extern const db_migration db_migrations[];

/* Opens path, sets WAL and applies pending migrations. Call once, before other threads use the
 * database. Returns 0 or -1 with err. */
int db_open(const char *path, char *err, size_t errlen);
/* Closes every thread's connection. Call after those threads stopped. */
void db_close_all(void);
/* The schema version in force (the highest migration applied). */
int db_schema_version(void);

/* This thread's connection (opened on first use). NULL only if the database cannot be opened. */
sqlite3 *db_conn(void);

/* Transactions nest: the outermost is BEGIN IMMEDIATE, inner ones are savepoints, so a handler
 * may run inside the transaction of its caller (Idempotency-Key). Return SQLITE_OK or an
 * error code (logged). */
int db_begin(void);
int db_commit(void);
void db_rollback(void);
int db_in_transaction(void);

/* A cached prepared statement of this thread for sql. The caller binds, steps, then calls
 * db_done, which resets it for the next user. NULL (logged) when sql does not compile. */
sqlite3_stmt *db_prepare(const char *sql);
void db_done(sqlite3_stmt *st);
/* Runs sql without results. Returns SQLITE_OK or the error (logged). */
int db_exec(const char *sql);

/* Column text, "" for NULL. */
const char *db_text(sqlite3_stmt *st, int col);
/* Binds s, or NULL when s is NULL. */
void db_bind_text(sqlite3_stmt *st, int idx, const char *s);
/* Steps a statement that returns no row; returns SQLITE_DONE or the error (logged). */
int db_step_done(sqlite3_stmt *st);
/* sqlite3_changes of this thread's connection. */
int db_changes(void);

#endif
