/* The stream type: entries ordered by ID in packed nodes, and consumer groups.
 *
 * A stream is an idtree (idtree.h) from each node's master ID to the node. A node is one
 * zmalloc block holding the master entry's field names and then entries, each delta-encoded
 * against the master ID and, when its fields are the master's, storing only the values (Redis's
 * listpack-of-entries scheme, with a more compact byte format of our own). Deleted entries stay
 * as tombstones until their whole node goes. Nodes are cut where Redis would cut its listpacks
 * (stream-node-max-bytes measured in Redis's listpack bytes, stream-node-max-entries), so that
 * approximate trimming and XINFO report what Redis reports.
 *
 * A consumer group keeps its PEL (ID -> nack) and its consumers, each with its own PEL sharing
 * the group's nacks. Everything belongs to the entry that holds the stream: one shard, no
 * locking. Commands live in t_stream.c and t_stream_group.c. */
#ifndef DFLY_STREAM_H
#define DFLY_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "idtree.h"
#include "object.h"

#define STREAM_ID_STR_MAX 44               /* "<ms>-<seq>" and a NUL, with room to spare */
#define STREAM_ENTRIES_READ_INVALID (-1LL) /* Redis's SCG_INVALID_ENTRIES_READ */

typedef struct stream_consumer stream_consumer;

/* A delivered, not yet acknowledged entry; shared by the group PEL and its consumer's PEL. */
typedef struct stream_nack {
    int64_t delivery_time; /* ms */
    uint64_t delivery_count;
    stream_consumer *consumer;
} stream_nack;

struct stream_consumer {
    int64_t seen_time; /* ms: last time it read or claimed */
    idtree pel;        /* ID -> stream_nack (owned by the group PEL) */
    size_t name_len;
    char name[];
};

typedef struct stream_cg {
    stream_id last_id;           /* last delivered */
    long long entries_read;      /* logical read counter, or STREAM_ENTRIES_READ_INVALID */
    idtree pel;                  /* ID -> stream_nack (owned) */
    stream_consumer **consumers; /* sorted by name as Redis's rax orders them */
    uint32_t nconsumers, consumers_cap;
    size_t name_len;
    char name[];
} stream_cg;

typedef struct stream {
    idtree nodes; /* master ID -> node */
    uint64_t length;
    stream_id last_id;     /* last generated */
    stream_id first_id;    /* first live entry (0-0 when empty) */
    stream_id max_deleted; /* greatest ID ever deleted by XDEL */
    uint64_t entries_added;
    size_t node_bytes;  /* zmalloc'd by the nodes */
    stream_cg **groups; /* sorted by name; NULL until the first group */
    uint32_t ngroups, groups_cap;
} stream;

/* ---- IDs --------------------------------------------------------------------------------- */

/* Successor / predecessor; -1 (and wrap-around) past the ends, as Redis's streamIncrID. */
int stream_id_incr(stream_id *id);
int stream_id_decr(stream_id *id);
static inline int stream_id_is_zero(const stream_id *id)
{
    return !id->ms && !id->seq;
}
/* Writes "<ms>-<seq>"; returns the length. buf holds STREAM_ID_STR_MAX bytes. */
int stream_id_format(char buf[STREAM_ID_STR_MAX], const stream_id *id);
/* Redis's streamGenericParseIDOrReply without the reply: "-" and "+" (unless strict), "<ms>",
 * "<ms>-<seq>", and "<ms>-*" when seq_given is not NULL (*seq_given = 0 then). A missing seq
 * becomes missing_seq. Returns 0, or -1 when invalid. */
int stream_id_parse(const char *p, size_t len, stream_id *id, uint64_t missing_seq, int strict,
                    int *seq_given);

/* ---- the stream -------------------------------------------------------------------------- */

stream *stream_new(void);
void stream_free(stream *s);
stream *stream_dup(const stream *s);
size_t stream_mem_usage(const stream *s);

enum { STREAM_OK = 0, STREAM_ERR_ID = -1, STREAM_ERR_TOO_BIG = -2 };
/* Appends an entry of nfields field/value pairs (fv[2i], fv[2i+1]). use_id NULL generates the ID
 * from now_ms; otherwise use_id is taken as is (seq_given) or with a generated sequence. Returns
 * STREAM_OK and the ID in *added, STREAM_ERR_ID when the ID is not above the last one, or
 * STREAM_ERR_TOO_BIG. */
int stream_append(stream *s, const slice *fv, long nfields, const stream_id *use_id, int seq_given,
                  int64_t now_ms, stream_id *added);

enum { TRIM_NONE = 0, TRIM_MAXLEN, TRIM_MINID };
typedef struct stream_trim_args {
    int strategy;    /* TRIM_* */
    int approx;      /* only whole nodes go */
    long long limit; /* at most this many entries removed; 0: no limit */
    long long maxlen;
    stream_id minid;
} stream_trim_args;
/* Redis's streamTrim: removes entries from the head; returns how many. */
int64_t stream_trim(stream *s, const stream_trim_args *a);

/* Marks entry id deleted; 1 when it was there. Does not update first_id/max_deleted. */
int stream_delete(stream *s, const stream_id *id);
int stream_entry_exists(stream *s, const stream_id *id);
/* First or last ID, tombstones included or not; the max/min ID when there is none (Redis's
 * streamGetEdgeID). */
void stream_edge_id(stream *s, int first, int skip_tombstones, stream_id *out);
/* Number of nodes Redis's rax would have for this stream's node keys (XINFO radix-tree-nodes). */
uint64_t stream_rax_nodes(const stream *s);

/* Logical read counters (Redis 7.0's lag bookkeeping). */
long long stream_estimate_distance(const stream *s, const stream_id *id);
int stream_range_has_tombstones(const stream *s, const stream_id *start, const stream_id *end);

/* ---- iteration --------------------------------------------------------------------------- */

typedef struct stream_iter {
    stream *s;
    stream_id start, end;
    int rev;
    int skip_tombstones; /* 1 unless changed after start */
    int started;
    idtree_iter ti;
    void *node; /* the node being read; NULL: move to the next one */
    stream_id master;
    uint32_t pos; /* forward: next entry's offset; backward: end of the next entry */
    /* The current entry. */
    uint32_t cur_off;
    int cur_flags;
    const unsigned char *fp;  /* next field or value */
    const unsigned char *mfp; /* next master field, for entries with the master's fields */
    char ftmp[OBJ_INT_STR_MAX], vtmp[OBJ_INT_STR_MAX];
} stream_iter;

/* Entries with start <= ID <= end (NULL: unbounded), ascending or (rev) descending. */
void stream_iter_start(stream_iter *si, stream *s, const stream_id *start, const stream_id *end,
                       int rev);
/* Next entry: 1 with its ID and number of fields, 0 at the end. */
int stream_iter_next(stream_iter *si, stream_id *id, long *nfields);
/* The next field and value of the current entry; valid until the iterator moves. */
void stream_iter_field(stream_iter *si, const char **f, size_t *flen, const char **v, size_t *vlen);
/* Deletes the current entry (ID cur) and re-seeks after it. */
void stream_iter_remove(stream_iter *si, const stream_id *cur);

/* ---- consumer groups --------------------------------------------------------------------- */

stream_cg *stream_cg_lookup(const stream *s, const char *name, size_t len);
/* NULL when a group of that name exists. */
stream_cg *stream_cg_create(stream *s, const char *name, size_t len, const stream_id *last_id,
                            long long entries_read);
void stream_cg_destroy(stream *s, stream_cg *cg);

stream_consumer *stream_consumer_lookup(const stream_cg *cg, const char *name, size_t len);
/* NULL when it exists. */
stream_consumer *stream_consumer_create(stream_cg *cg, const char *name, size_t len,
                                        int64_t now_ms);
/* Deletes the consumer and its pending entries from the group; returns how many it had. */
uint64_t stream_consumer_delete(stream_cg *cg, stream_consumer *consumer);

stream_nack *stream_nack_new(stream_consumer *consumer, int64_t now_ms);
void stream_nack_free(stream_nack *nack);
/* Removes a nack from the group and its consumer and frees it. */
void stream_nack_drop(stream_cg *cg, const stream_id *id, stream_nack *nack);

/* ---- raw nodes: the RDB codec (rdb_stream.c) reads and builds a stream node by node ------- */

/* Entry flags, the same bits as Redis's STREAM_ITEM_FLAG_*. */
#define STREAM_ENTRY_DELETED (1 << 0)    /* a tombstone */
#define STREAM_ENTRY_SAMEFIELDS (1 << 1) /* has its node's master fields: only values stored */

/* Reads one node of s->nodes as it is: master fields, then every entry, tombstones included. */
typedef struct stream_node_reader {
    const void *node;
    stream_id master;
    uint32_t pos; /* next entry */
    int flags;    /* of the current entry */
    const unsigned char *fp, *mfp;
    char ftmp[OBJ_INT_STR_MAX], vtmp[OBJ_INT_STR_MAX];
} stream_node_reader;

/* Opens node (the value of master in s->nodes); gives its live entries, tombstones and number
 * of master fields. */
void stream_node_open(stream_node_reader *nr, const void *node, const stream_id *master,
                      uint32_t *count, uint32_t *deleted, long *master_fields);
/* The next master field name: call it master_fields times, before stream_node_next. */
void stream_node_master_field(stream_node_reader *nr, const char **f, size_t *len);
/* The next entry: 1 with its ID, STREAM_ENTRY_* flags and number of fields; 0 at the end. */
int stream_node_next(stream_node_reader *nr, stream_id *id, int *flags, long *nfields);
/* The next field and value of the current entry; valid until the reader moves. */
void stream_node_field(stream_node_reader *nr, const char **f, size_t *flen, const char **v,
                       size_t *vlen);

/* Building: a node whose master fields are the field names fv[2i] of nfields pairs (values are
 * not read), then its entries in increasing ID order, each >= master (the caller checks order,
 * counts and field numbers). With STREAM_ENTRY_SAMEFIELDS only the values fv[2i+1] are read
 * and nfields must be the master's count. stream_node_append returns the node's new address,
 * or NULL (node unchanged) when it would pass the largest node size. stream_node_index puts the
 * node in s->nodes under master: 0, or -1 (and the node is freed) when that key exists. */
void *stream_node_create(stream *s, const slice *fv, long nfields);
void *stream_node_append(stream *s, void *node, const stream_id *master, const stream_id *id,
                         int flags, const slice *fv, long nfields);
int stream_node_index(stream *s, const stream_id *master, void *node);
void stream_node_discard(stream *s, void *node);

#endif
