/* The append-only journal (--appendonly yes): Redis 7's multi-part AOF in <dir>/<appenddirname>
 * (a base RDB file, incremental files of RESP commands, and a manifest), so that a Redis 7.0
 * server can load the directory and Redis users find what they expect:
 *
 *   appendonlydir/appendonly.aof.1.base.rdb    the dataset at the last rewrite (RDB, aof-base 1)
 *   appendonlydir/appendonly.aof.1.incr.aof    every write since, as RESP commands
 *   appendonlydir/appendonly.aof.manifest      "file <name> seq <n> type b|i", one line each
 *
 * Every write command that changed something is appended after it ran, by the thread that ran
 * it, while it still holds the shards of its keys: so the commands of one shard appear in the
 * order they ran, and a multi-shard command (MSET, EXEC, a script) appears once, whole.
 * Commands whose effect depends on the time or on chance are journaled in a deterministic form
 * (relative expiries as absolute ones, SPOP as SREM of what it popped...); procs say so with
 * journal_rewrite. An annotation "#MS:<unix ms>" before a record carries the time the command
 * ran (Redis 7.0 skips '#' lines), so a replay decides every expiry exactly as the original
 * run did: expired keys need no DEL in the journal, their absolute expiry times replay. Evicted
 * keys get none either (a replay brings them back, and eviction runs again when memory is
 * short); Redis journals a DEL for both.
 *
 * With appendfsync always a reply leaves only after its record is on disk (client_flush asks
 * journal_before_reply; one fdatasync covers every record appended meanwhile, from any
 * thread); everysec fsyncs from the journal thread once a second; no only writes. Records are
 * written to the file before replies go out in every mode, so a killed process loses nothing
 * that was acknowledged.
 *
 * BGREWRITEAOF takes a forkless snapshot (snapshot.h) as the new base; at the snapshot's point
 * in time appending moves to a new incremental file, and when the base is complete a new
 * manifest names both and the old files go. */
#ifndef DFLY_JOURNAL_H
#define DFLY_JOURNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "command.h"

/* ---- startup, loading, shutdown --------------------------------------------------------- */

/* main.c, before loading starts: reads the manifest if there is one and starts the journal
 * thread. With --appendonly yes and no journal yet, the journal is created (the snapshot that
 * was loaded, if any, becomes its base) as soon as loading is over. */
void journal_init(void);
/* 1 when --appendonly yes and a journal (manifest) exists to load at start. */
int journal_exists(void);
/* Loads the base file and replays the incremental files; from the loader thread (it waits
 * while workers run the commands). Returns 0, or -1 with err. */
int journal_load(char *err, size_t errlen);
/* main.c, once no command runs (workers quiesced, still running): waits for a rewrite under
 * way, writes and fsyncs what is pending, stops the journal thread. */
void journal_shutdown(void);

/* ---- the command path (dispatch.c, client.c) ------------------------------------------- */

/* 1 while commands are being journaled: the one branch dispatch_call takes when it is 0. */
extern atomic_int journal_active;

/* What one running command will journal. Lives on dispatch_call's stack. */
typedef struct journal_rec {
    int replaced;   /* a proc called journal_rewrite/also: resp holds the commands */
    int ncmds;      /* commands in resp */
    buf resp;       /* RESP of the commands to journal instead of the original */
    uint64_t dirty; /* the dirty counters of the command's shards before it ran */
    int tap_only;   /* journal_tap_force: for replicas, not for the file */
    struct journal_rec *outer;
} journal_rec;

/* Around a command's proc, when journal_active. journal_after appends what the command
 * changed (or what its proc asked for); a command run inside EXEC or a script is gathered and
 * appended with the outermost one, wrapped in MULTI/EXEC. */
void journal_before(cmd_ctx *c, journal_rec *r);
void journal_after(cmd_ctx *c, journal_rec *r);

/* Bytes appended, and bytes a reply may rely on (on disk with appendfsync always, written to
 * the file otherwise). */
extern _Atomic uint64_t journal_appended_seq, journal_durable_seq;
void journal_before_reply_slow(void);
/* client_flush, before replies are handed to the kernel: waits until every record appended so
 * far is where the appendfsync policy wants it. */
static inline void journal_before_reply(void)
{
    if (__builtin_expect(atomic_load_explicit(&journal_appended_seq, memory_order_relaxed) !=
                             atomic_load_explicit(&journal_durable_seq, memory_order_relaxed),
                         0))
        journal_before_reply_slow();
}

/* Set while the journal cannot be written (disk full...): write commands (and PING, as in
 * Redis) get "-MISCONF Errors writing to the AOF file: <reason>". */
extern atomic_int journal_write_failed;
int journal_refuse_slow(cmd_ctx *c, const struct command *cmd);
/* dispatch_command: 1 after replying the error when cmd must be refused. */
static inline int journal_refuse(cmd_ctx *c, const struct command *cmd)
{
    return __builtin_expect(atomic_load_explicit(&journal_write_failed, memory_order_relaxed), 0) &&
           journal_refuse_slow(c, cmd);
}

/* ---- for command procs: journaling another form (Redis's rewriteClientCommandVector) ----- */

/* 1 when what a proc asks for is recorded; a proc may skip building arguments otherwise. */
static inline int journal_wanted(void)
{
    return atomic_load_explicit(&journal_active, memory_order_relaxed);
}

/* Journals one command instead of the running one (and of anything asked before). fmt has a
 * letter per argument: 's' a C string, 'b' a const slice *, 'l' a long long. Call it where
 * the proc changed something: the command is then journaled even when no key's counter moved
 * (FUNCTION LOAD). */
void journal_rewrite(cmd_ctx *c, const char *fmt, ...);
/* Journals one more command after the running one (or after its rewrite). Several commands of
 * one call are wrapped in MULTI/EXEC. */
void journal_also(cmd_ctx *c, const char *fmt, ...);
/* journal_rewrite with an argument vector. */
void journal_rewrite_argv(cmd_ctx *c, int argc, const slice *argv);
/* Journals the running command as it is, even if no key's counter moved. */
void journal_force(cmd_ctx *c);

/* A command built argument by argument (SPOP's SREM of every popped member). */
typedef struct journal_cmd {
    int argc;
    buf args; /* RESP bulks */
} journal_cmd;
void journal_cmd_init(journal_cmd *jc, const char *name);
void journal_cmd_add(journal_cmd *jc, const char *p, size_t len);
void journal_cmd_add_ll(journal_cmd *jc, long long v);
/* Replaces what the running command journals by jc (also: adds jc after it); frees jc. */
void journal_cmd_commit(cmd_ctx *c, journal_cmd *jc, int also);
void journal_cmd_free(journal_cmd *jc);

/* ---- the tap: a second consumer of the records (the replication stream) ----------------- *
 * Replication receives the very records the journal file gets, appended under the same lock,
 * so both see one order: a shard's commands in the order they ran, multi-shard commands and
 * EXEC/script effects whole (MULTI/EXEC). The tap's copy differs in two ways: it has no "#MS:"
 * annotations (only Redis's AOF loader skips '#' lines; a replica's command parser would take
 * them for a command), and it carries a DEL for every key that expires or is evicted, since
 * replicas never expire keys themselves (Redis's propagateDeletion). Its SELECTs are its own:
 * it names the database whenever that changes for the tap, independently of the file. */

/* Receives the tap's bytes: complete commands in RESP. Called under the append lock, in
 * append order, on the thread that appended; must not call back into the journal. */
typedef void (*journal_tap_fn)(const char *resp, size_t len);
/* Installs (fn) or removes (NULL) the tap. Records are built while the journal file or the tap
 * is on (journal_active). Any thread. */
void journal_tap_set(journal_tap_fn fn);
/* Runs fn(arg) under the append lock, so that no record is appended meanwhile, and makes the
 * tap's next record begin with SELECT (a replica starting at this point knows no database). */
void journal_tap_sync(void (*fn)(void *arg), void *arg);
/* For command procs: the running command goes to the tap even though it changed nothing here,
 * and not to the file (PUBLISH: subscribers of replicas get the message, as in Redis). */
void journal_tap_force(cmd_ctx *c);
/* Appends a keyless command to the tap alone (the master's PING, REPLCONF GETACK). */
void journal_tap_command(int argc, const slice *argv);

/* ---- the slot tap: records by hash slot (slot migration, migration.h) -------------------- *
 * A consumer beside the file and the replication tap, fed under the same lock and in the same
 * order, but command by command: each top-level command of db 0 whose keys hash to one slot
 * (an EXEC's or a script's commands one by one, without MULTI/EXEC; DELs of expired and
 * evicted keys too), with that slot. Keyless commands and other databases are not passed. */

/* Receives ncmds complete RESP commands of one slot. Called under the append lock, on the
 * thread that appended, which holds the slot's shard; must not call back into the journal. */
typedef void (*journal_slot_tap_fn)(int slot, const char *resp, size_t len, int ncmds);
/* Installs (fn) or removes (NULL) the slot tap. Any thread. */
void journal_slot_tap_set(journal_slot_tap_fn fn);

/* 1 while a tap (the replication tap or the slot tap) is installed. */
extern atomic_int journal_tap_on;
void journal_tap_deleted_slow(int dbid, const char *key, size_t len);
/* db.c: a key expired or was evicted (on behalf of its shard): DEL to the tap alone. Inside
 * an EXEC or a script it precedes the MULTI/EXEC of their effects, which ran after it. */
static inline void journal_tap_deleted(int dbid, const char *key, size_t len)
{
    if (__builtin_expect(atomic_load_explicit(&journal_tap_on, memory_order_relaxed), 0))
        journal_tap_deleted_slow(dbid, key, len);
}

/* ---- configuration, commands, INFO ------------------------------------------------------- */

/* CONFIG SET appendonly yes|no (server.cfg.appendonly already holds the new value); runs while
 * every shard is held. Turning it on starts a rewrite whose snapshot becomes the base. */
int journal_config_appendonly(char *err, size_t errlen);
/* CONFIG SET appendfsync. */
int journal_config_appendfsync(char *err, size_t errlen);

/* A rewrite as soon as nothing stands in the way, when the journal is on (a replica after a
 * full sync: the file describes the data it replaced). Any thread. */
void journal_rewrite_schedule(void);

/* The aof_* lines of INFO persistence. */
void journal_info(buf *out);

#endif
