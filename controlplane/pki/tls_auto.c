/* --tls-auto: dfly-control's own HTTPS certificate from the internal CA, issued at each start
 * for the --listen host and this host's loopback names, written to the data directory with
 * the CA certificate that clients should trust. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca.h"
#include "config.h"
#include "log.h"
#include "mem.h"

#define TLS_AUTO_CERT "api.crt"
#define TLS_AUTO_KEY "api.key"
#define TLS_AUTO_CA "ca.crt"
#define TLS_AUTO_CN "dfly-control"
#define TLS_AUTO_FILE_MODE 0600
#define WILDCARD_V4 "0.0.0.0"
#define WILDCARD_V6 "::"

static int file_write(const char *path, const char *text, char *err, size_t errlen)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, TLS_AUTO_FILE_MODE);
    size_t n = strlen(text);
    int ok = fd >= 0 && write(fd, text, n) == (ssize_t)n;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(ok ? errno : e));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Replaces a string flag's value (the flag table owns and frees it). */
static void flag_set(char **field, const char *value)
{
    free(*field);
    *field = mem_strdup(value);
}

int pki_tls_auto(char *err, size_t errlen)
{
    if (!ctl_cfg.tls_auto)
        return 0;
    char sans[PKI_SANS_MAX][PKI_SAN_MAX];
    const char *ptrs[PKI_SANS_MAX];
    int n = 0;
    /* a wildcard address is no name a client uses: the loopback names cover local clients */
    if (strcmp(ctl_cfg.listen_host, WILDCARD_V4) && strcmp(ctl_cfg.listen_host, WILDCARD_V6))
        pki_san_for_host(ctl_cfg.listen_host, sans[n++], PKI_SAN_MAX);
    static const char *const local[] = {"DNS:localhost", "IP:127.0.0.1"};
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
        if (!n || strcmp(sans[0], local[i]))
            snprintf(sans[n++], PKI_SAN_MAX, "%s", local[i]);
    for (int i = 0; i < n; i++)
        ptrs[i] = sans[i];
    pki_cert c;
    if (pki_issue(NULL, TLS_AUTO_CN, ptrs, n, PKI_USAGE_SERVER, ctl_cfg.cert_lifetime_s, &c, err,
                  errlen) < 0)
        return -1;
    char cert[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16];
    snprintf(cert, sizeof(cert), "%s/%s", ctl_cfg.data_dir_abs, TLS_AUTO_CERT);
    snprintf(key, sizeof(key), "%s/%s", ctl_cfg.data_dir_abs, TLS_AUTO_KEY);
    snprintf(ca, sizeof(ca), "%s/%s", ctl_cfg.data_dir_abs, TLS_AUTO_CA);
    int rc = file_write(key, c.key_pem, err, errlen);
    if (rc == 0)
        rc = file_write(cert, c.cert_pem, err, errlen);
    if (rc == 0)
        rc = file_write(ca, pki_ca_pem(), err, errlen);
    pki_cert_clear(&c);
    if (rc < 0)
        return -1;
    flag_set(&ctl_cfg.tls_cert_file, cert);
    flag_set(&ctl_cfg.tls_key_file, key);
    log_info("--tls-auto: HTTPS certificate %s issued by the internal CA; clients trust %s (also "
             "GET /v1/ca)",
             cert, ca);
    return 0;
}
