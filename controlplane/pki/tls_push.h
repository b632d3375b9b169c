/* TLS on an instance's nodes (issue 14): what a node's spec carries (its certificate, key, the
 * CA and the CRL, written to its files before it starts) and the push of a new certificate,
 * CRL or tls_client_auth to running nodes: files rewritten, then one CONFIG SET over the admin
 * port that makes the node reload them (new connections get the new context, open ones keep
 * theirs). Loop thread only. */
#ifndef DFLY_CONTROL_PKI_TLS_PUSH_H
#define DFLY_CONTROL_PKI_TLS_PUSH_H

struct pass;
struct prov_node;

/* The TLS members of a node's spec from the pass (none when the instance has TLS off). */
void tls_node_spec(const struct pass *p, struct prov_node *s);
/* Gives every running node of the instance what changed since it last took it (or since it
 * started); finishes a rotation's operation once every node serves the new certificate.
 * Failures are retried on the next pass. */
void tls_push(struct pass *p);

#endif
