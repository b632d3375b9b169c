/* libFuzzer target: config files (common/flags.c) with dfly-server's parameter table. Any
 * input either loads or gives an error message; nothing else. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "flags.h"
#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof(path), "/tmp/dfly-fuzz-config-%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    char err[FLAGS_ERR_MAX];
    err[0] = '\0';
    char *argv[] = {"fuzz_config", NULL};
    if (flags_init(server_flags, 1, argv, NULL, err, sizeof(err)))
        abort();
    if (flags_load_file(server_flags, path, err, sizeof(err)) != 0 && !err[0])
        abort(); /* a failure always says why */
    /* Replaced values are kept until flags_free: without it every input would add to them. */
    flags_free(server_flags);
    return 0;
}
