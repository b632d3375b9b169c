/* Encryption at rest; see crypt.h. (Stub: not implemented yet.) */
#include <stdio.h>

#include "crypt.h"

int crypt_key_load(const char *path, unsigned char key[CRYPT_KEY_LEN], char *err, size_t errlen)
{
    (void)key;
    snprintf(err, errlen, "%s: snapshot encryption is not implemented yet", path);
    return -1;
}

crypt_writer *crypt_writer_new(const unsigned char key[CRYPT_KEY_LEN])
{
    (void)key;
    return NULL;
}

int crypt_writer_feed(crypt_writer *w, const void *data, size_t len, buf *out)
{
    (void)w, (void)data, (void)len, (void)out;
    return -1;
}

int crypt_writer_finish(crypt_writer *w, buf *out)
{
    (void)w, (void)out;
    return -1;
}

void crypt_writer_free(crypt_writer *w)
{
    (void)w;
}

int crypt_is_encrypted(const void *data, size_t len)
{
    (void)data, (void)len;
    return 0;
}

int crypt_decrypt_all(const void *data, size_t len, const unsigned char key[CRYPT_KEY_LEN],
                      buf *out, char *err, size_t errlen)
{
    (void)data, (void)len, (void)key, (void)out;
    snprintf(err, errlen, "snapshot encryption is not implemented yet");
    return -1;
}
