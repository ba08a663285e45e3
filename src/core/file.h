/* Whole-file reads with a cap, and writes that never leave a half-written file. */
#ifndef CG_CORE_FILE_H
#define CG_CORE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/error.h"

/* Reads all of path into out (initialised by the caller, its max is the cap). Errors name the
 * file: "cannot read 'x': No such file or directory"; over the cap: CG_ELIMIT. */
CG_RESULT cg_file_read(const char *path, struct cg_buf *out, struct cg_err *err);
/* Creates path with mode, failing with CG_EEXISTS if it exists (O_EXCL); writes all of data and
 * fsyncs. On failure nothing is left behind. */
CG_RESULT cg_file_create(const char *path, const void *data, size_t len, mode_t mode,
                         struct cg_err *err);
/* Creates the directory (and parents) with mode when missing. */
CG_RESULT cg_dir_ensure(const char *path, mode_t mode, struct cg_err *err);
bool cg_file_exists(const char *path);
/* The directory part of path ("." when none), into out. */
void cg_path_dirname(const char *path, char *out, size_t n);
/* The last component of path without its extension ("Mx1" for "D:\\App\\Mx1.pfx"). Both '/'
 * and '\\' separate, so that Windows paths from imported settings work. */
void cg_path_stem(const char *path, char *out, size_t n);

#endif
