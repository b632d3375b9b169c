/* libFuzzer target: what terraform-provider-dfly decodes from Terraform (terraform/). The first
 * byte picks the gRPC method whose request the rest is: rpc_handle unpacks it (protoc-c's
 * generated tfplugin6 unpack), decodes its DynamicValues (cty msgpack or JSON) and raw states, and
 * answers with diagnostics. One request per input, on a fresh, unconfigured provider: it never
 * reaches the network (a ConfigureProvider that succeeds only makes a client). The last choice
 * decodes the input as a cty msgpack value: what decodes encodes, and decodes again to the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cty.h"
#include "rpc.h"

static const char *const methods[] = {
    "/tfplugin6.Provider/GetProviderSchema",
    "/tfplugin6.Provider/ValidateProviderConfig",
    "/tfplugin6.Provider/ValidateResourceConfig",
    "/tfplugin6.Provider/ValidateDataResourceConfig",
    "/tfplugin6.Provider/ConfigureProvider",
    "/tfplugin6.Provider/UpgradeResourceState",
    "/tfplugin6.Provider/ReadResource",
    "/tfplugin6.Provider/PlanResourceChange",
    "/tfplugin6.Provider/ApplyResourceChange",
    "/tfplugin6.Provider/ImportResourceState",
    "/tfplugin6.Provider/ReadDataSource",
    "/tfplugin6.Provider/StopProvider",
    "/plugin.GRPCController/Shutdown",
    "/tfplugin6.Provider/NoSuchMethod",
};
#define N_METHODS (sizeof methods / sizeof methods[0])

static void rpc_surface(const char *method, const uint8_t *in, size_t len)
{
    rpc_ctx ctx;
    rpc_ctx_init(&ctx);
    buf resp;
    buf_init(&resp);
    bool stop = false;
    int rc = rpc_handle(&ctx, method, in, len, &resp, &stop);
    if (rc != GRPC_OK && resp.len)
        abort(); /* a failed call has no message */
    buf_free(&resp);
    rpc_ctx_free(&ctx);
}

/* Decoded values encode, and that encoding decodes and encodes to the same bytes (compared as
 * bytes: a NaN is equal to nothing, not even itself). */
static void cty_surface(const uint8_t *in, size_t len)
{
    cty_value *v = cty_decode_msgpack(in, len);
    if (!v)
        return;
    buf once, twice;
    buf_init(&once);
    buf_init(&twice);
    cty_encode_msgpack(v, &once);
    cty_value *again = cty_decode_msgpack((const uint8_t *)once.data, once.len);
    if (!again)
        abort();
    cty_encode_msgpack(again, &twice);
    if (once.len != twice.len || memcmp(once.data, twice.data, once.len))
        abort();
    cty_value *copy = cty_dup(v);
    buf_clear(&twice);
    cty_encode_msgpack(copy, &twice);
    if (once.len != twice.len || memcmp(once.data, twice.data, once.len))
        abort();
    cty_free(copy);
    cty_free(again);
    cty_free(v);
    buf_free(&once);
    buf_free(&twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t pick = data[0] % (N_METHODS + 1);
    if (pick == N_METHODS)
        cty_surface(data + 1, size - 1);
    else
        rpc_surface(methods[pick], data + 1, size - 1);
    return 0;
}
