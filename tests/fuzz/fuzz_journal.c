/* libFuzzer target: the journal (append-only file) reader of dataplane/journal_load.c, as the
 * loader reads an incremental file or a RESP base at start: "#MS:" annotations, "*<n>" and
 * "$<len>" lines, SELECT/MULTI/EXEC, command lookup and arity, and the shards of each command's
 * keys (key specs). Nothing runs (journal_parse_for_fuzzing drops the batches). The input is a
 * file (a memfd), read in the loader's chunks. Every refusal must say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "command.h"
#include "flags.h"
#include "log.h"
#include "replay.h"
#include "server.h"
#include "types.h"

#define FUZZ_SHARDS 2
#define FUZZ_ERR_MAX 512

static int initialized;
static int memfd = -1;

static void init_once(void)
{
    char err[FLAGS_ERR_MAX];
    char *argv[] = {"fuzz_journal", NULL};
    if (flags_init(server_flags, 1, argv, NULL, err, sizeof(err)) ||
        server_config_apply(err, sizeof(err)))
        abort();
    types_init();
    command_table_init();
    log_set_level(LOG_ERROR);     /* a warning per skipped command would slow the run tenfold */
    server.nshards = FUZZ_SHARDS; /* key_shard spreads keys as a two-thread server does */
    memfd = memfd_create("fuzz_journal", 0);
    if (memfd < 0)
        abort();
    initialized = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!initialized)
        init_once();
    if (ftruncate(memfd, 0) < 0 || lseek(memfd, 0, SEEK_SET) < 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t n = write(memfd, data + off, size - off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    if (lseek(memfd, 0, SEEK_SET) < 0)
        abort();
    char err[FUZZ_ERR_MAX];
    err[0] = '\0';
    if (journal_parse_for_fuzzing(memfd, err, sizeof(err)) < 0 && !err[0])
        abort();
    return 0;
}
