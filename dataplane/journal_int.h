/* The journal's state, shared by journal.c (appending, writing, fsync, the journal thread),
 * journal_files.c (the manifest, starting, rewrites, BGREWRITEAOF) and journal_load.c
 * (loading at start). Not for other modules: they use journal.h. */
#ifndef DFLY_JOURNAL_INT_H
#define DFLY_JOURNAL_INT_H

#include <pthread.h>
#include <stdint.h>

#include "buf.h"
#include "journal.h"

#define JOURNAL_ERR_MAX 512
#define JOURNAL_TICK_MS 100             /* the journal thread's period */
#define JOURNAL_FSYNC_PERIOD_MS 1000    /* appendfsync everysec */
#define JOURNAL_RETRY_MS 5000           /* a failed rewrite or start is tried again after this */
#define JOURNAL_ERR_LOG_PERIOD_MS 30000 /* write errors are logged at most this often (Redis) */
#define JOURNAL_PATH_MAX 4096

/* Where the journal is. */
enum journal_state {
    J_OFF = 0,      /* appendonly no */
    J_STARTING,     /* appendonly yes at start: created (or opened) once loading is over */
    J_WAIT_REWRITE, /* CONFIG SET appendonly yes: the first base is being written */
    J_ON,
};

enum journal_fsync { JFSYNC_ALWAYS = 0, JFSYNC_EVERYSEC, JFSYNC_NO };

/* One file of the manifest. */
typedef struct jfile {
    char *name; /* in the journal directory; NULL when absent */
    long long seq;
} jfile;

/* Redis's aofManifest: at most one base, then incremental files in sequence order. */
typedef struct jmanifest {
    jfile base;
    jfile *incr;
    int nincr;
    long long base_seq, incr_seq; /* highest sequence numbers in use */
} jmanifest;

/* A rewrite in progress (journal_files.c). */
typedef struct jrewrite {
    int in_progress;
    int scheduled; /* wanted: started as soon as nothing stands in the way */
    int posted;    /* journal_rewrite_post sent the start to worker 0 */
    int mode;      /* the state when it started: J_ON, J_WAIT_REWRITE or J_OFF */
    unsigned gen;
    int64_t start_ms;
    int64_t retry_at_ms;
    int64_t last_secs;
    int last_ok;
    long long count, failures;
    int next_fd;     /* the incremental file appending moves to at the point in time */
    jfile next_incr; /* its manifest entry (J_ON); a temporary file in J_WAIT_REWRITE */
    jfile base;      /* the new base */
} jrewrite;

struct journal {
    pthread_mutex_t mu;    /* state, appending, the manifest, the rewrite */
    pthread_mutex_t io_mu; /* writing and syncing files; taken before mu */
    pthread_cond_t cv;     /* wakes the journal thread */
    int state;
    unsigned gen; /* changes whenever appendonly is turned on or off */
    atomic_int fsync_mode;
    /* Appending (mu): records go to pending, then to fd. */
    buf pending;
    int fd;
    int cur_db;     /* the database the file's last SELECT named, -1 */
    int64_t cur_ms; /* the time of the file's last annotation, -1 */
    /* After a switch of files, what the previous one still has to get (mu). */
    buf old_pending;
    int old_fd;
    uint64_t written_seq, synced_seq; /* io_mu */
    /* The manifest as on disk (mu). */
    jmanifest m;
    int have_manifest;
    jrewrite rw;
    int file_active; /* records are wanted for the file (journal_file_active_locked) */
    /* The tap (journal.h), and its own database (mu). */
    journal_tap_fn tap;
    int tap_db;
    buf tap_buf;
    /* The slot tap (journal.h): records of db 0 by hash slot, for slot migrations (mu). */
    journal_slot_tap_fn slot_tap;
    buf slot_buf; /* a DEL of an expired or evicted key, built for the slot tap */
    /* The last write or fsync error (mu). */
    int write_errno;
    int64_t last_err_log_ms;
    int64_t last_fsync_ms;
    /* The journal thread. */
    pthread_t thread;
    int thread_started, stop;
};

extern struct journal J;

/* journal.c */
/* Writes pending records to the files, and fdatasyncs them when sync is set. Returns 0 or -1
 * (the error is recorded). Any thread that holds no journal lock. */
int journal_flush(int sync);
/* Sets journal_durable_seq from the sequence numbers after a write or an fsync (io_mu). */
void journal_update_durable(void);
/* Records a write or fsync error (mu): MISCONF from now on. */
void journal_set_error_locked(int err, const char *what);
/* Whether records are wanted for the file; journal_active is on while they are, or while
 * the tap is installed (mu). */
void journal_file_active_locked(int on);
/* Closes the incremental files and forgets what is pending (mu). */
void journal_close_files_locked(void);

/* journal_files.c */
/* Paths in the journal directory. */
void journal_path(char *out, size_t outlen, const char *name);
const char *journal_dir(void);
/* Reads the manifest at path into m. Returns 0, 1 when there is no manifest, or -1 with err. */
int journal_manifest_read(jmanifest *m, char *err, size_t errlen);
/* Writes m as the manifest: a temporary file, fsync, rename, fsync of the directory. */
int journal_manifest_write(const jmanifest *m, char *err, size_t errlen);
void journal_manifest_free(jmanifest *m);
/* Opens the journal when loading is over (J_STARTING): the last incremental file of the
 * manifest, or a new journal whose base is the snapshot that was loaded. mu held. */
int journal_start_locked(char *err, size_t errlen);
/* Starts a rewrite from a worker thread. */
enum { JRW_STARTED = 0, JRW_SCHEDULED, JRW_IN_PROGRESS, JRW_ERROR };
int journal_rewrite_start(char *err, size_t errlen);
/* Posts journal_rewrite_start to worker 0 (the journal thread, CONFIG SET). */
void journal_rewrite_post(void);
/* Opens (creating) the journal directory. */
int journal_mkdir(char *err, size_t errlen);
/* Removes temporary files a crash may have left in the directory. */
void journal_remove_temp_files(void);
/* Sizes for INFO: the base file and all of the manifest's files (mu). */
void journal_sizes_locked(long long *base, long long *total);

/* journal_load.c */
/* Replays the RESP commands of path (a base in AOF format, or an incremental file). last: a
 * torn tail may be cut. */
int journal_replay_file(const char *name, int last, char *err, size_t errlen);

#endif
