#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/str.h"

int cg_file_read(const char *path, struct cg_buf *out, struct cg_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int code = errno == ENOENT ? CG_ENOENT : errno == EACCES ? CG_EPERM : CG_EIO;
        return cg_err_set(err, code, "cannot read '%s': %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return cg_err_set(err, CG_EIO, "cannot read '%s': it is a directory", path);
    }
    uint8_t chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return cg_err_set(err, CG_EIO, "cannot read '%s': %s", path, strerror(e));
        }
        if (n == 0) break;
        int rc = cg_buf_append(out, chunk, (size_t)n);
        if (rc < 0) {
            close(fd);
            cg_wipe(chunk, sizeof(chunk));
            if (rc == CG_ELIMIT)
                return cg_err_set(err, CG_ELIMIT, "'%s' is larger than %zu bytes, the limit for this input",
                                  path, out->max);
            return cg_err_set(err, rc, "cannot read '%s': out of memory", path);
        }
    }
    cg_wipe(chunk, sizeof(chunk));
    close(fd);
    return 0;
}

int cg_file_create(const char *path, const void *data, size_t len, mode_t mode, struct cg_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return cg_err_set(err, CG_EEXISTS, "'%s' already exists", path);
        return cg_err_set(err, CG_EIO, "cannot create '%s': %s", path, strerror(errno));
    }
    const uint8_t *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = errno;
            close(fd);
            unlink(path);
            return cg_err_set(err, CG_EIO, "cannot write '%s': %s", path, strerror(e));
        }
        p += n;
        left -= (size_t)n;
    }
    if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return cg_err_set(err, CG_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    close(fd);
    return 0;
}

int cg_dir_ensure(const char *path, mode_t mode, struct cg_err *err)
{
    char tmp[4096];
    if (cg_strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp))
        return cg_err_set(err, CG_EINVAL, "path too long: '%s'", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return cg_err_set(err, CG_EIO, "cannot create directory '%s': %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return cg_err_set(err, CG_EIO, "cannot create directory '%s': %s", tmp, strerror(errno));
    return 0;
}

bool cg_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

void cg_path_dirname(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        cg_strlcpy(out, ".", n);
        return;
    }
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    if (len >= n) len = n - 1;
    memcpy(out, path, len);
    out[len] = '\0';
}

void cg_path_stem(const char *path, char *out, size_t n)
{
    const char *base = path;
    for (const char *p = path; *p; p++)
        if (*p == '/' || *p == '\\') base = p + 1;
    cg_strlcpy(out, base, n);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}
