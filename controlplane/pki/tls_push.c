/* TLS material to the nodes: specs before a start, reloads while they run. */
#include "tls_push.h"

#include <stdio.h>
#include <string.h>

#include "ca.h"
#include "db.h"
#include "log.h"
#include "node/resp.h"
#include "reconciler_int.h"

#define TLS_SEEN_MAX 1024
#define TLS_FP_MAX (PKI_SERIAL_HEX_MAX + TLS_AUTH_MAX + 32)
#define TLS_CALL_OUT_MAX 512

/* What each node last took: the epoch is its running_since, so a restart shows as a change. */
typedef struct tls_seen {
    char node_id[ID_MAX];
    int64_t epoch;
    char fp[TLS_FP_MAX];
} tls_seen;

static tls_seen seen[TLS_SEEN_MAX];
static int nseen;

/* The entry of node_id; when the table is full the oldest entry is reused (its node gets the
 * push again, which is harmless). */
static tls_seen *seen_of(const char *node_id)
{
    for (int i = 0; i < nseen; i++)
        if (!strcmp(seen[i].node_id, node_id))
            return &seen[i];
    static int next_reuse;
    tls_seen *s = nseen < TLS_SEEN_MAX ? &seen[nseen++] : &seen[next_reuse++ % TLS_SEEN_MAX];
    memset(s, 0, sizeof(*s));
    snprintf(s->node_id, sizeof(s->node_id), "%s", node_id);
    s->epoch = -1;
    return s;
}

static int material_ready(const pki_instance_tls *t)
{
    return t->tls && t->cert_pem && t->key_pem && t->ca_pem && t->crl_pem;
}

void tls_node_spec(const pass *p, prov_node *s)
{
    const pki_instance_tls *t = &p->tls;
    if (!material_ready(t))
        return;
    s->tls_cert = t->cert_pem;
    s->tls_key = t->key_pem;
    s->tls_ca = t->ca_pem;
    s->tls_crl = t->crl_pem;
    s->tls_client_auth = t->client_auth;
}

/* Files first, then the reload: CONFIG SET of any tls-* parameter builds a new context from
 * every file (dataplane/tls.c), so tls-auth-clients carries the certificate and the CRL too. */
static int node_push(pass *p, node_row *nd)
{
    char err[REASON_MAX], out[TLS_CALL_OUT_MAX];
    if (rec_node_create(p, nd, err, sizeof(err)) < 0) {
        log_warning("instance %s: node %s: %s", p->in.id, nd->id, err);
        return -1;
    }
    const char *set[] = {"CONFIG", "SET", "tls-auth-clients", p->tls.client_auth};
    if (rec_node_call(p, nd, out, sizeof(out), 4, set) != RESP_OK) {
        log_warning("instance %s: TLS reload on node %s: %s", p->in.id, nd->id, out);
        return -1;
    }
    return 0;
}

static void rotation_finish(pass *p)
{
    store_operation_finish_one(p->tls.rotate_op, OP_SUCCEEDED, NULL);
    sqlite3_stmt *st = db_prepare(
        "UPDATE instance_certs SET rotate_op = NULL WHERE instance_id = ? AND rotate_op = ?");
    if (st) {
        db_bind_text(st, 1, p->in.id);
        db_bind_text(st, 2, p->tls.rotate_op);
        db_step_done(st);
        db_done(st);
    }
    log_info("instance %s: every node serves certificate %s", p->in.id, p->tls.serial);
}

void tls_push(pass *p)
{
    pki_instance_tls *t = &p->tls;
    if (!material_ready(t))
        return;
    char fp[TLS_FP_MAX];
    snprintf(fp, sizeof(fp), "%s|%lld|%s", t->serial, t->crl_number, t->client_auth);
    int all = 1;
    for (int i = 0; i < p->n; i++) {
        node_row *nd = &p->nodes[i];
        if (!rec_node_wanted(p, nd))
            continue;
        if (strcmp(nd->status, NODE_RUNNING)) {
            all = 0;
            continue;
        }
        int64_t epoch = supervisor_rt(nd->id)->running_since;
        tls_seen *s = seen_of(nd->id);
        if (s->epoch == epoch && !strcmp(s->fp, fp))
            continue;
        if (node_push(p, nd) == 0) {
            s->epoch = epoch;
            snprintf(s->fp, sizeof(s->fp), "%s", fp);
            log_debug("instance %s: node %s reloaded TLS (%s)", p->in.id, nd->id, fp);
        } else {
            all = 0;
            reconcile_soon();
        }
    }
    if (all && t->rotate_op[0] && !t->rotate_pending)
        rotation_finish(p);
}
