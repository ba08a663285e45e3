/* The master key file (SPEC.md section 5): 32 random bytes, hex plus a newline, mode 0600,
 * created once and never overwritten. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "core/file.h"
#include "core/mem.h"
#include "core/str.h"
#include "pki/internal.h"
#include "pki/pki.h"

#define HEX_LEN (2 * CG_MASTER_KEY_LEN)
#define FILE_MAX 256

int cg_pki_master_key_create(const char *path, struct cg_err *err)
{
    CG_ENSURE(path, CG_EINVAL);
    uint8_t key[CG_MASTER_KEY_LEN];
    char text[HEX_LEN + 2];
    if (RAND_priv_bytes(key, sizeof(key)) != 1) {
        cg_pki_drain_errors(NULL, 0);
        return cg_err_set(err, CG_EINTERNAL, "cannot create master key '%s': no random bytes available", path);
    }
    cg_hex_encode(key, sizeof(key), text);
    text[HEX_LEN] = '\n';
    text[HEX_LEN + 1] = '\0';
    int rc = cg_file_create(path, text, HEX_LEN + 1, 0600, err);
    cg_wipe(key, sizeof(key));
    cg_wipe(text, sizeof(text));
    if (rc == CG_EEXISTS)
        cg_err_hint(err, "a master key is never overwritten: keep it, or remove it only if no store uses it");
    return rc;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int cg_pki_master_key_load(const char *path, uint8_t out[CG_MASTER_KEY_LEN], struct cg_err *err)
{
    CG_ENSURE(path && out, CG_EINVAL);
    /* open, then fstat the same descriptor: the mode checked is the mode of what is read */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            cg_err_set(err, CG_ENOENT, "master key '%s' does not exist", path);
            return cg_err_hint(err, "run 'certgate init' to create the store and its master key");
        }
        return cg_err_set(err, e == EACCES ? CG_EPERM : CG_EIO, "cannot read master key '%s': %s", path,
                          strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cg_err_set(err, CG_EIO, "master key '%s' is not a regular file", path);
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        cg_err_set(err, CG_EPERM, "master key '%s' is accessible by group or others (mode %04o)", path,
                   (unsigned)(st.st_mode & 07777));
        return cg_err_hint(err, "chmod 600 '%s'", path);
    }
    uint8_t text[FILE_MAX + 1];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, text + len, sizeof(text) - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            cg_wipe(text, sizeof(text));
            return cg_err_set(err, CG_EIO, "cannot read master key '%s': %s", path, strerror(e));
        }
        if (n == 0 || (len += (size_t)n) == sizeof(text)) break;
    }
    close(fd);

    struct cg_slice t = cg_slice_trim(cg_slice_make(text, len));
    int rc = 0;
    if (len > FILE_MAX || t.len != HEX_LEN) {
        rc = CG_EPROTO;
    } else {
        for (size_t i = 0; i < CG_MASTER_KEY_LEN; i++) {
            int hi = hexval(t.ptr[2 * i]), lo = hexval(t.ptr[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                rc = CG_EPROTO;
                break;
            }
            out[i] = (uint8_t)(hi << 4 | lo);
        }
    }
    cg_wipe(text, sizeof(text));
    if (rc < 0) {
        cg_wipe(out, CG_MASTER_KEY_LEN);
        cg_err_set(err, CG_EPROTO, "master key '%s' is not a master key: expected %d hex digits", path, HEX_LEN);
        return cg_err_hint(err, "restore the master key file from a backup of this store");
    }
    return 0;
}
