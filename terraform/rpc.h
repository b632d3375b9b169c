/* The provider's gRPC services: tfplugin6.Provider and go-plugin's plugin.GRPCController
 * (Shutdown). Anything else (GRPCStdio, GRPCBroker, RPCs we have no use for) is UNIMPLEMENTED. */
#ifndef TF_RPC_H
#define TF_RPC_H

#include "grpc.h"
#include "provider.h"

typedef struct rpc_ctx {
    provider provider;
} rpc_ctx;

/* A grpc_handler_fn; ud is an rpc_ctx. */
int rpc_handle(void *ud, const char *method, const uint8_t *req, size_t len, buf *resp, bool *stop);
void rpc_ctx_init(rpc_ctx *ctx);
void rpc_ctx_free(rpc_ctx *ctx);

#endif
