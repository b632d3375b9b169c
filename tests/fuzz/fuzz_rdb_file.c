/* libFuzzer target: whole RDB files (dataplane/rdb_load.c's rdb_parse), as the loader reads
 * them at start: header, opcodes, key records, EOF and checksum. The sink keeps nothing: it frees
 * every entry and checks what the parser promises (keys match their entries, offsets grow and
 * stay inside the input). Most mutated inputs fail the checksum only at the end, so the records
 * before it are all exercised. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "rdb_load.h"
#include "server.h"
#include "types.h"

static int initialized;

static void init_once(void)
{
    char err[FLAGS_ERR_MAX];
    char *argv[] = {"fuzz_rdb_file", NULL};
    if (flags_init(server_flags, 1, argv, NULL, err, sizeof(err)) ||
        server_config_apply(err, sizeof(err)))
        abort();
    types_init();
    initialized = 1;
}

typedef struct fuzz_state {
    size_t len;
    size_t last_progress;
} fuzz_state;

static int fuzz_key(void *arg, rdb_key_rec *rec, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    size_t klen;
    const char *k = entry_key(rec->e, &klen);
    if (klen != rec->klen || memcmp(k, rec->key, klen) || rec->dbid < 0)
        abort();
    entry_free(rec->e);
    return 0;
}

static int fuzz_function(void *arg, const char *code, size_t len, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    if (len && !code)
        abort();
    return 0;
}

static void fuzz_progress(void *arg, size_t offset)
{
    fuzz_state *st = arg;
    if (offset < st->last_progress || offset > st->len)
        abort();
    st->last_progress = offset;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!initialized)
        init_once();
    fuzz_state st = {size, 0};
    rdb_sink sink = {
        .arg = &st, .key = fuzz_key, .function = fuzz_function, .progress = fuzz_progress};
    char err[RDB_LOAD_ERR_MAX];
    err[0] = '\0';
    if (rdb_parse(data, size, &sink, err, sizeof(err)) == 0) {
        if (st.last_progress != size)
            abort(); /* a file that parses was consumed to its last byte */
    } else if (!strstr(err, " at offset ")) {
        abort(); /* every error names its offset */
    }
    return 0;
}
