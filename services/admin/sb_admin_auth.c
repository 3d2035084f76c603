/*  sb_admin_auth — loads or creates the admin token and checks bearer headers.  */

#include "sb_admin_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_TOKEN_BYTES 24 // 192 random bits, as 48 hex digits after "sbadm-"
#define S_MAX_TOKEN   512

struct _sb_admin_auth_t {
    unsigned char digest[SHA256_DIGEST_LENGTH]; // SHA-256 of the token
};

static void
s_trim (char *s)
{
    size_t n = strlen (s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

//  Reads the token file. Returns 0, 1 when it does not exist, -1 on error.
static int
s_read_token (const char *path, char *token, size_t size, char *err, size_t err_size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT) return 1;
        snprintf (err, err_size, "%s: %s", path, strerror (errno));
        return -1;
    }
    struct stat st;
    if (fstat (fd, &st) == 0 && (st.st_mode & 077)) {
        //  Readable by others: tighten it rather than refuse to start.
        fprintf (stderr, "admin: %s was mode %03o, setting 0600\n", path, st.st_mode & 0777);
        fchmod (fd, 0600);
    }
    ssize_t n = read (fd, token, size - 1);
    close (fd);
    if (n < 0) {
        snprintf (err, err_size, "%s: %s", path, strerror (errno));
        return -1;
    }
    token[n] = '\0';
    s_trim (token);
    if (!*token || (size_t)n == size - 1) {
        snprintf (err, err_size, "%s: empty or longer than %zu bytes", path, size - 2);
        return -1;
    }
    return 0;
}

static int
s_create_token (const char *path, char *token, size_t size, char *err, size_t err_size)
{
    unsigned char bytes[S_TOKEN_BYTES];
    if (size < 7 + 2 * S_TOKEN_BYTES || RAND_bytes (bytes, sizeof bytes) != 1) {
        snprintf (err, err_size, "no random bytes for the admin token");
        return -1;
    }
    static const char digits[] = "0123456789abcdef";
    memcpy (token, "sbadm-", 6);
    for (size_t i = 0; i < sizeof bytes; i++) {
        token[6 + 2 * i] = digits[bytes[i] >> 4];
        token[7 + 2 * i] = digits[bytes[i] & 15];
    }
    token[6 + 2 * S_TOKEN_BYTES] = '\0';
    OPENSSL_cleanse (bytes, sizeof bytes);
    //  O_EXCL: never overwrite a token another admin process just wrote. fchmod:
    //  exactly 0600 whatever the umask.
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf (err, err_size, "%s: %s", path, strerror (errno));
        return -1;
    }
    size_t len = strlen (token);
    bool ok = fchmod (fd, 0600) == 0 && write (fd, token, len) == (ssize_t)len &&
              write (fd, "\n", 1) == 1 && fsync (fd) == 0;
    ok = close (fd) == 0 && ok;
    if (!ok) {
        snprintf (err, err_size, "%s: cannot write the token: %s", path, strerror (errno));
        unlink (path);
        return -1;
    }
    return 0;
}

sb_admin_auth_t *
sb_admin_auth_new (const char *env_token, const char *token_path, char *generated,
                   size_t generated_size, char *err, size_t err_size)
{
    char token[S_MAX_TOKEN + 2];
    if (generated_size) generated[0] = '\0';
    if (env_token && *env_token) {
        if (strlen (env_token) > S_MAX_TOKEN) {
            snprintf (err, err_size, "SB_ADMIN_TOKEN is longer than %d bytes", S_MAX_TOKEN);
            return NULL;
        }
        snprintf (token, sizeof token, "%s", env_token);
        if (strlen (token) < 16)
            fprintf (stderr, "admin: warning: SB_ADMIN_TOKEN is shorter than 16 characters\n");
    } else {
        int rc = s_read_token (token_path, token, sizeof token, err, err_size);
        if (rc == 1) {
            if (s_create_token (token_path, token, sizeof token, err, err_size)) return NULL;
            snprintf (generated, generated_size, "%s", token);
        } else if (rc < 0)
            return NULL;
    }
    sb_admin_auth_t *self = calloc (1, sizeof *self);
    if (self) SHA256 ((const unsigned char *)token, strlen (token), self->digest);
    OPENSSL_cleanse (token, sizeof token);
    return self;
}

void
sb_admin_auth_destroy (sb_admin_auth_t **self_p)
{
    if (!self_p || !*self_p) return;
    free (*self_p);
    *self_p = NULL;
}

bool
sb_admin_auth_check (const sb_admin_auth_t *self, const char *header, size_t len)
{
    if (!header || len < 7 || strncasecmp (header, "Bearer ", 7) != 0) return false;
    const char *token = header + 7;
    size_t n = len - 7;
    while (n > 0 && *token == ' ')
        token++, n--;
    while (n > 0 && token[n - 1] == ' ')
        n--;
    return sb_admin_auth_check_token (self, token, n);
}

bool
sb_admin_auth_check_token (const sb_admin_auth_t *self, const char *token, size_t len)
{
    if (!token || len == 0 || len > S_MAX_TOKEN) return false;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256 ((const unsigned char *)token, len, digest);
    return CRYPTO_memcmp (digest, self->digest, sizeof digest) == 0;
}
