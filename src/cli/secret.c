#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/mem.h"

#define PASSWORD_MAX 4096

bool cg_cli_interactive(void) { return isatty(STDIN_FILENO) && isatty(STDERR_FILENO); }

/* A secret from --<what>-env VAR or --<what>-file F (its first line), or given inline (the admin
 * API's request). */
static int secret_get(const struct cg_cli_args *a, const char *given, const char *what, char **out,
                      struct cg_err *err)
{
    *out = NULL;
    if (given) {
        *out = cg_strdup(given);
        CG_ENSURE(*out, CG_ENOMEM);
        return 0;
    }
    char env_opt[32], file_opt[32];
    snprintf(env_opt, sizeof(env_opt), "%s-env", what);
    snprintf(file_opt, sizeof(file_opt), "%s-file", what);
    const char *var = cg_cli_opt(a, env_opt);
    const char *file = cg_cli_opt(a, file_opt);
    if (var && file) {
        cg_err_set(err, CG_EUSAGE, "give --%s or --%s, not both", env_opt, file_opt);
        return CG_EUSAGE;
    }
    if (var) {
        const char *v = getenv(var);
        if (!v) {
            cg_err_set(err, CG_EUSAGE, "--%s %s: the variable %s is not set", env_opt, var, var);
            return cg_err_hint(err, "export %s=... first, or use --%s", var, file_opt);
        }
        *out = cg_strdup(v);
        CG_ENSURE(*out, CG_ENOMEM);
        return 0;
    }
    if (file) {
        struct cg_buf b;
        cg_buf_init_secret(&b, PASSWORD_MAX);
        int rc = cg_file_read(file, &b, err);
        if (rc < 0) {
            cg_buf_cleanup(&b);
            return cg_err_prefix(err, "--%s", file_opt);
        }
        /* the first line; a trailing newline (and CR) is not part of the secret */
        size_t n = 0;
        while (n < b.len && b.ptr[n] != '\n') n++;
        if (n && b.ptr[n - 1] == '\r') n--;
        *out = cg_strndup((const char *)b.ptr, n);
        cg_buf_cleanup(&b);
        CG_ENSURE(*out, CG_ENOMEM);
        return 0;
    }
    return 0;
}

int cg_cli_password(const struct cg_cli_args *a, char **out, struct cg_err *err)
{
    return secret_get(a, a->password, "password", out, err);
}

int cg_cli_secret(const struct cg_cli_args *a, char **out, struct cg_err *err)
{
    return secret_get(a, a->secret, "secret", out, err);
}

int cg_cli_prompt_password(const char *prompt, char **out, struct cg_err *err)
{
    *out = NULL;
    if (!cg_cli_interactive())
        return cg_err_set(err, CG_EUSAGE, "a password is needed and there is no terminal to ask on"),
               cg_err_hint(err, "give it with --password-file FILE or --password-env VAR");
    struct termios old, quiet;
    bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    fprintf(stderr, "%s", prompt);
    fflush(stderr);
    char line[PASSWORD_MAX];
    char *got = fgets(line, sizeof(line), stdin);
    if (restore) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fprintf(stderr, "\n");
    if (!got) {
        cg_wipe(line, sizeof(line));
        return cg_err_set(err, CG_EUSAGE, "no password entered");
    }
    line[strcspn(line, "\r\n")] = '\0';
    *out = cg_strdup(line);
    cg_wipe(line, sizeof(line));
    CG_ENSURE(*out, CG_ENOMEM);
    return 0;
}
