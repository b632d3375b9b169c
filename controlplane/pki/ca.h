/* The control plane's internal certificate authority (issue 14): one EC P-256 CA made at the
 * first start, kept in SQLite (table pki_ca) with its private key sealed (AES-256-GCM) under
 * the master key: DFLY_MASTER_KEY (any text, hashed with SHA-256) or <data-dir>/master.key (32
 * random bytes, mode 0600, made with the CA). A later start whose master key does not open the
 * CA's key refuses to start: a new CA would silently invalidate every certificate out there.
 *
 * It issues certificates (instances' server certificates, client certificates, dfly-control's
 * own with --tls-auto) and CRLs. Threads: pki_init once on the main thread before any other
 * thread runs; everything else from any thread (signing is serialized inside). */
#ifndef DFLY_CONTROL_PKI_CA_H
#define DFLY_CONTROL_PKI_CA_H

#include <stddef.h>

#define PKI_MASTER_KEY_ENV "DFLY_MASTER_KEY"
#define PKI_MASTER_KEY_FILE "master.key"
#define PKI_SERIAL_HEX_MAX 41 /* 20 bytes in hex, with the NUL */
#define PKI_FP_HEX_MAX 65     /* SHA-256 in hex, with the NUL */
#define PKI_SAN_MAX 300       /* "DNS:<name>" or "IP:<address>" */
#define PKI_SANS_MAX 8
#define PKI_ISSUER_MAX 256

/* What a certificate may be used for (extendedKeyUsage). */
enum { PKI_USAGE_SERVER = 1 << 0, PKI_USAGE_CLIENT = 1 << 1 };

typedef struct pki_cert {
    char *cert_pem; /* malloc'd */
    char *key_pem;  /* malloc'd: the private key, unencrypted; the caller seals or hands it out */
    char serial[PKI_SERIAL_HEX_MAX];
    long long not_before_ms, not_after_ms;
    char fingerprint[PKI_FP_HEX_MAX]; /* SHA-256 of the DER certificate, lower-case hex */
} pki_cert;

/* An issuing CA below the internal one: each TLS instance has its own (instance_tls.c), so
 * that its nodes, which trust only it, refuse client certificates made for other instances. */
typedef struct pki_authority pki_authority;

/* Loads the CA from the database, or makes it at the first start. Returns 0 or -1 with err
 * (a missing or wrong master key among the reasons). */
int pki_init(const char *data_dir, char *err, size_t errlen);
/* The CA certificate in PEM (static; valid until pki_free). */
const char *pki_ca_pem(void);
void pki_free(void);

/* Seals text under the master key (*out malloc'd), and opens what it sealed (*out malloc'd,
 * NUL-terminated; -1 when it was altered or sealed under another key). */
void pki_seal(const char *text, unsigned char **out, size_t *outlen);
int pki_open(const void *in, size_t n, char **out);

/* A new authority named cn: its certificate signed by the internal CA (*cert_pem, what servers
 * send with their own), the same name and key self-signed (*self_pem, what nodes trust), and
 * its key sealed under the master key (*key_enc, *key_len). All malloc'd. Returns 0 or -1. */
int pki_authority_make(const char *cn, char **cert_pem, char **self_pem, unsigned char **key_enc,
                       size_t *key_len, char *err, size_t errlen);
/* Loads one (its certificate and sealed key); NULL when they do not parse or open. */
pki_authority *pki_authority_load(const char *cert_pem, const void *key_enc, size_t key_len);
void pki_authority_free(pki_authority *a);
/* The subject of a (NULL: the internal CA) as text ("CN=..."): the issuer of what it signs. */
void pki_authority_name(const pki_authority *a, char *out, size_t outlen);

/* Issues a certificate signed by a (NULL: the internal CA) for cn with the SANs ("DNS:x",
 * "IP:x"), usage PKI_USAGE_*, valid from now for lifetime_s seconds (not beyond its issuer's
 * end). Returns 0 or -1 with err. Free out with pki_cert_clear. */
int pki_issue(const pki_authority *a, const char *cn, const char *const *sans, int nsans, int usage,
              long long lifetime_s, pki_cert *out, char *err, size_t errlen);
void pki_cert_clear(pki_cert *c);

/* A CRL signed by a (NULL: the internal CA) naming the revoked serials (hex, with when each was
 * revoked, ms), numbered crl_number, valid until a's end. malloc'd PEM, or NULL. */
char *pki_crl_pem(const pki_authority *a, const char *const *serials, const long long *revoked_ms,
                  int n, long long crl_number);

/* --tls-auto: issues dfly-control's HTTPS certificate, writes it, its key and the CA to the
 * data directory and points --tls-cert-file and --tls-key-file at them (pki/tls_auto.c).
 * Nothing without the flag. Returns 0 or -1 with err. Main thread, before the API starts. */
int pki_tls_auto(char *err, size_t errlen);

/* SAN text for a host: "IP:<host>" when it is an IPv4 or IPv6 address, else "DNS:<host>". */
void pki_san_for_host(const char *host, char *out, size_t outlen);

#endif
