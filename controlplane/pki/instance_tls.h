/* TLS of instances (issue 14): their settings (instances.tls, tls_client_auth), the server
 * certificate of each TLS instance (table instance_certs), the CRL the nodes check client
 * certificates against, and what a node needs to run with TLS. Shared by the API handlers
 * (api/certs.c) and the reconciler (tls_push.c). */
#ifndef DFLY_CONTROL_PKI_INSTANCE_TLS_H
#define DFLY_CONTROL_PKI_INSTANCE_TLS_H

#include "ca.h"
#include "ids.h"

#define TLS_AUTH_MAX 16 /* "no", "optional", "yes" */
#define TLS_AUTH_DEFAULT "no"

/* One pass's view of an instance's TLS (reconciler loop thread). PEM texts are malloc'd and
 * NULL when tls is off. */
typedef struct pki_instance_tls {
    int tls;
    char client_auth[TLS_AUTH_MAX];
    char serial[PKI_SERIAL_HEX_MAX];
    char *cert_pem;          /* the server certificate and the instance's CA after it */
    char *key_pem, *crl_pem; /* its key; the CRL of the instance's CA */
    char *ca_pem;            /* what the nodes trust: the instance's CA, self-signed */
    long long crl_number;
    char rotate_op[ID_MAX]; /* a rotation asked through the API and not finished, or "" */
    int rotate_pending;     /* its new certificate is not issued yet */
} pki_instance_tls;

/* 1 when v is a tls_client_auth value. */
int pki_client_auth_valid(const char *v);

/* The settings of instance id. Returns 0, or -1 when there is no such row. Any thread. */
int pki_instance_settings(const char *id, int *tls, char *client_auth);
/* Writes them (in the caller's transaction); a change of tls also asks for a rolling restart
 * (the nodes' listeners change). Returns 0 or -1. */
int pki_instance_settings_save(const char *id, int tls, const char *client_auth);

/* Asks the reconciler for a new server certificate of instance id, finishing operation op when
 * every node has it. Returns 0; PKI_ROTATION_RUNNING with running_op (ID_MAX) set when an
 * earlier rotation is not finished; -1 when there is no certificate yet. */
#define PKI_ROTATION_RUNNING 1
int pki_instance_rotate_request(const char *id, const char *op, char *running_op);

/* For the reconciler, once per pass of instance id: loads its settings; with tls, issues its
 * server certificate when it has none, when its renewal time came (less than --cert-renew-share
 * of its lifetime left) or when a rotation was asked (each an event), and loads the PEM texts
 * of the certificate, its key, the CA and the current CRL. Loop thread only. */
void pki_pass_prepare(const char *instance_id, pki_instance_tls *t);
void pki_pass_free(pki_instance_tls *t);

/* The instance's own CA (made at first need), which signs its server and client certificates;
 * free with pki_authority_free. NULL on failure (logged). Any thread. */
pki_authority *pki_instance_ca(const char *id);
/* Writes a new CRL of the instance's CA naming its revoked client certificates, with the next
 * number (the reconciler then gives it to the nodes). In the caller's transaction. 0 or -1. */
int pki_instance_crl_refresh(const char *id);

#endif
