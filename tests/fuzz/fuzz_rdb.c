/* libFuzzer target: loading RDB values (dataplane/rdb.c), as RESTORE and the snapshot loader
 * do. The first byte picks the RDB type; a value that loads is saved again and loaded back, and
 * must save to as many bytes the second time (hash tables may list their elements in another
 * order, so the bytes themselves may differ). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "rdb.h"
#include "server.h"
#include "types.h"

static int initialized;

static void init_once(void)
{
    char err[FLAGS_ERR_MAX];
    char *argv[] = {"fuzz_rdb", NULL};
    if (flags_init(server_flags, 1, argv, NULL, err, sizeof(err)) ||
        server_config_apply(err, sizeof(err)))
        abort();
    types_init();
    initialized = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!initialized)
        init_once();
    if (size < 1)
        return 0;
    rdb_reader r = {data + 1, data + size};
    entry *e = rdb_load_object(&r, data[0], "k", 1);
    if (!e)
        return 0;
    buf a, b;
    buf_init(&a);
    buf_init(&b);
    if (rdb_save_object(&a, e) == 0 && a.len > 0) {
        rdb_reader r2 = {(const unsigned char *)a.data + 1, (const unsigned char *)a.data + a.len};
        entry *e2 = rdb_load_object(&r2, (unsigned char)a.data[0], "k", 1);
        if (!e2)
            abort(); /* what we write we must read */
        if (rdb_save_object(&b, e2) != 0 || a.len != b.len)
            abort();
        entry_free(e2);
    }
    buf_free(&a);
    buf_free(&b);
    entry_free(e);
    return 0;
}
