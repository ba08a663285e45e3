/* Mendix settings (mendix.h). Pure parsing over strings with jansson for the JSON parts.
 *
 * Error codes: CG_ELIMIT for caps, CG_EPROTO for text that is not what the setting holds
 * (JSON syntax, not base64, not PEM), CG_EINVAL for well-formed values that break the rules
 * (unknown keys, wrong types, counts that differ, paths that match nothing, duplicates).
 * Secrets: passwords are never quoted in a message; the copies made here are wiped. */
#include "compat/mendix.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/mem.h"

#define SHOW_MAX 96 /* bytes of a user-supplied string quoted in a message */

/* A user-supplied string made safe to quote: at most SHOW_MAX bytes, control characters shown
 * as '?' (a tab or newline from a mis-escaped Windows path shows up that way). */
static const char *show(const char *s, char out[SHOW_MAX + 4])
{
    size_t i = 0;
    for (; s[i] && i < SHOW_MAX; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

CG_PRINTF(3, 4)
static int fail(struct cg_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cg_err_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

CG_PRINTF(2, 3)
static void hint(struct cg_err *err, const char *fmt, ...)
{
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
    va_end(ap);
}

static int nomem(struct cg_err *err, const char *what)
{
    return cg_err_set(err, CG_ENOMEM, "%s: out of memory", what);
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "something else";
}

/* A target is a web service name (Module.Service) or a host name: never empty, never with
 * whitespace or control characters (the platform matches targets exactly, so " Module.WS1"
 * never matched anything there either). */
static bool target_valid(const char *s)
{
    if (!s[0]) return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (isspace(*p) || *p < 0x20 || *p == 0x7f) return false;
    return true;
}

/* JSON text into a root value; syntax errors are reported against `setting`. When `secret`,
 * jansson's "near '...'" excerpt is left out of the message, since it may hold a password. */
static int load_json(const char *setting, const char *text, size_t len, bool secret, json_t **out,
                     struct cg_err *err)
{
    if (len > CG_MENDIX_MAX_JSON) {
        fail(err, CG_ELIMIT, "%s: %zu bytes is more than the limit of %d", setting, len,
             CG_MENDIX_MAX_JSON);
        hint(err, "import fewer certificates at a time");
        return CG_ELIMIT;
    }
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root) {
        *out = root;
        return 0;
    }
    char why[sizeof(jerr.text)];
    memcpy(why, jerr.text, sizeof(why));
    why[sizeof(why) - 1] = '\0';
    if (secret) {
        char *near = strstr(why, " near ");
        if (near) *near = '\0';
    }
    if (json_error_code(&jerr) == json_error_duplicate_key) {
        fail(err, CG_EINVAL, "%s: a key is given twice (line %d, column %d): %s", setting,
             jerr.line, jerr.column, why);
        hint(err, "give each key once and remove the other");
        return CG_EINVAL;
    }
    if (json_error_code(&jerr) == json_error_out_of_memory) return nomem(err, setting);
    fail(err, CG_EPROTO, "%s: not valid JSON (line %d, column %d): %s", setting, jerr.line,
         jerr.column, why);
    if (memchr(text, '\\', len))
        hint(err, "backslashes must be doubled inside JSON strings: \"D:\\\\App\\\\Mx1.pfx\"");
    else
        hint(err, "check the quotes, commas and braces; strings use double quotes");
    return CG_EPROTO;
}

/* ---- local settings --------------------------------------------------------------------- */

static void wipe_list(struct cg_strlist *l)
{
    for (size_t i = 0; i < l->n; i++) cg_free_secret_str(l->items[i]);
    cg_free(l->items);
    cg_strlist_init(l);
}

void cg_mendix_local_cleanup(struct cg_mendix_local *m)
{
    if (!m) return;
    cg_strlist_cleanup(&m->paths);
    wipe_list(&m->passwords);
    for (size_t i = 0; i < m->n_usages; i++) cg_free(m->usages[i].target);
    cg_free(m->usages);
    m->usages = NULL;
    m->n_usages = 0;
}

static void local_init(struct cg_mendix_local *m)
{
    cg_strlist_init(&m->paths);
    cg_strlist_init(&m->passwords);
    m->usages = NULL;
    m->n_usages = 0;
}

static int parse_paths(const char *certificates, struct cg_strlist *paths, struct cg_err *err)
{
    static const char *S = "ClientCertificates";
    if (!certificates || !certificates[0]) {
        fail(err, CG_EINVAL, "%s: no certificate files given", S);
        hint(err, "give the paths of the .pfx/.p12 files, separated by commas");
        return CG_EINVAL;
    }
    if (strnlen(certificates, CG_MENDIX_MAX_JSON + 1) > CG_MENDIX_MAX_JSON) {
        fail(err, CG_ELIMIT, "%s: more than the limit of %d bytes", S, CG_MENDIX_MAX_JSON);
        hint(err, "import the certificates in several steps");
        return CG_ELIMIT;
    }
    if (cg_strlist_split(paths, certificates, ',', true) < 0) return nomem(err, S);
    if (paths->n > CG_MENDIX_MAX_ENTRIES) {
        fail(err, CG_ELIMIT, "%s: %zu files, more than the limit of %d", S, paths->n,
             CG_MENDIX_MAX_ENTRIES);
        hint(err, "import them in several steps");
        return CG_ELIMIT;
    }
    char b[SHOW_MAX + 4];
    for (size_t i = 0; i < paths->n; i++) {
        if (!paths->items[i][0]) {
            fail(err, CG_EINVAL, "%s: entry %zu of %zu is empty", S, i + 1, paths->n);
            hint(err, "remove the extra comma; the value is a comma-separated list of paths");
            return CG_EINVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(paths->items[i], paths->items[j]) == 0) {
                fail(err, CG_EINVAL, "%s: '%s' is listed twice (entries %zu and %zu)", S,
                     show(paths->items[i], b), j + 1, i + 1);
                hint(err, "list each file once, with its password at the same position in "
                          "ClientCertificatePasswords");
                return CG_EINVAL;
            }
    }
    return 0;
}

/* Splits at ',' keeping every byte: passwords are not trimmed (" pw" is a password). Each copy
 * is wiped on cleanup. */
static int parse_passwords(const char *passwords, size_t n_paths, struct cg_strlist *out,
                           struct cg_err *err)
{
    static const char *S = "ClientCertificatePasswords";
    if (!passwords) {
        for (size_t i = 0; i < n_paths; i++)
            if (cg_strlist_add(out, "") < 0) return nomem(err, S);
        return 0;
    }
    if (strnlen(passwords, CG_MENDIX_MAX_JSON + 1) > CG_MENDIX_MAX_JSON) {
        fail(err, CG_ELIMIT, "%s: more than the limit of %d bytes", S, CG_MENDIX_MAX_JSON);
        hint(err, "import the certificates in several steps");
        return CG_ELIMIT;
    }
    size_t given = 1;
    for (const char *q = passwords; *q; q++) given += *q == ',';
    if (given != n_paths) {
        fail(err, CG_EINVAL, "%s has %zu entries but ClientCertificates has %zu", S, given, n_paths);
        hint(err, "give one password per file, in the same order, separated by commas; leave a "
                  "position empty for a file without a password (\"pw1,,pw3\"); a password "
                  "cannot contain a comma");
        return CG_EINVAL;
    }
    for (const char *p = passwords;;) {
        const char *comma = strchr(p, ',');
        char *copy = cg_strndup(p, comma ? (size_t)(comma - p) : strlen(p));
        if (!copy) return nomem(err, S);
        int rc = cg_strlist_add(out, copy);
        cg_free_secret_str(copy);
        if (rc < 0) return nomem(err, S);
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

static void no_match_hint(struct cg_err *err, const char *path, const struct cg_strlist *paths)
{
    char b[SHOW_MAX + 4];
    for (size_t i = 0; i < paths->n; i++)
        if (strcasecmp(path, paths->items[i]) == 0) {
            hint(err, "did you mean '%s'? The path must be written exactly as in "
                      "ClientCertificates", show(paths->items[i], b));
            return;
        }
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (*p < 0x20) {
            hint(err, "the path holds a control character: a single backslash before n, t, r, "
                      "b or f is a JSON escape; double every backslash (\"D:\\\\App\\\\Mx1.pfx\")");
            return;
        }
    char list[CG_ERR_HINT_MAX / 2] = "";
    for (size_t i = 0; i < paths->n; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof(list) - len, "%s'%s'", i ? ", " : "", show(paths->items[i], b));
    }
    hint(err, "use one of the ClientCertificates paths (%s), or \"\" for no certificate; in "
              "the JSON, backslashes are doubled", list);
}

static int parse_usages(const char *usages_json, const struct cg_strlist *paths,
                        struct cg_mendix_local *m, struct cg_err *err)
{
    static const char *S = "ClientCertificateUsages";
    json_t *root = NULL;
    CG_GUARD(load_json(S, usages_json, strnlen(usages_json, CG_MENDIX_MAX_JSON + 1), false, &root,
                        err));
    int rc = 0;
    char b[SHOW_MAX + 4], b2[SHOW_MAX + 4];
    if (!json_is_object(root)) {
        rc = fail(err, CG_EINVAL, "%s must be a JSON object, not %s", S, json_kind(root));
        hint(err, "write {\"Module.Service\": \"path\", \"host.example\": \"path\"}");
        goto out;
    }
    size_t n = json_object_size(root);
    if (n > CG_MENDIX_MAX_ENTRIES) {
        rc = fail(err, CG_ELIMIT, "%s: %zu entries, more than the limit of %d", S, n,
                  CG_MENDIX_MAX_ENTRIES);
        hint(err, "import the usages in several steps, or pin the rest with 'certgate pin set'");
        goto out;
    }
    m->usages = cg_calloc(n, sizeof(*m->usages));
    if (!m->usages) {
        rc = nomem(err, S);
        goto out;
    }
    const char *target;
    json_t *value;
    json_object_foreach(root, target, value) {
        if (!target_valid(target)) {
            rc = fail(err, CG_EINVAL, "%s: entry '%s': %s", S, show(target, b),
                      target[0] ? "the name holds whitespace or a control character"
                                : "the name is empty");
            hint(err, "name a web service (\"Module.Service\") or a host (\"www.example.com\")");
            goto out;
        }
        if (!json_is_string(value)) {
            rc = fail(err, CG_EINVAL, "%s: entry '%s': the path must be a string, not %s", S,
                      show(target, b), json_kind(value));
            hint(err, "give the path of one of the ClientCertificates files, or \"\" for no "
                      "certificate");
            goto out;
        }
        const char *path = json_string_value(value);
        int cert = -1;
        if (path[0]) {
            for (size_t i = 0; i < paths->n && cert < 0; i++)
                if (strcmp(path, paths->items[i]) == 0) cert = (int)i;
            if (cert < 0) {
                rc = fail(err, CG_EINVAL, "%s: entry '%s': path '%s' is not one of %s", S,
                          show(target, b), show(path, b2), "ClientCertificates");
                no_match_hint(err, path, paths);
                goto out;
            }
        }
        struct cg_mendix_usage *u = &m->usages[m->n_usages];
        u->target = cg_strdup(target);
        if (!u->target) {
            rc = nomem(err, S);
            goto out;
        }
        u->cert = cert;
        m->n_usages++;
    }
out:
    json_decref(root);
    return rc;
}

int cg_mendix_local_parse(const char *certificates, const char *passwords, const char *usages_json,
                          struct cg_mendix_local *out, struct cg_err *err)
{
    local_init(out);
    struct cg_mendix_local m;
    local_init(&m);
    int rc = parse_paths(certificates, &m.paths, err);
    if (rc == 0) rc = parse_passwords(passwords, m.paths.n, &m.passwords, err);
    if (rc == 0 && usages_json) rc = parse_usages(usages_json, &m.paths, &m, err);
    if (rc < 0) {
        cg_mendix_local_cleanup(&m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- environment ------------------------------------------------------------------------ */

static void env_cert_cleanup(struct cg_mendix_env_cert *c)
{
    cg_buf_cleanup(&c->pfx);
    cg_free_secret_str(c->password);
    c->password = NULL;
    cg_strlist_cleanup(&c->pin_to);
}

void cg_mendix_env_cleanup(struct cg_mendix_env *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_certs; i++) env_cert_cleanup(&m->certs[i]);
    cg_free(m->certs);
    m->certs = NULL;
    m->n_certs = 0;
}

/* Overwrites the passwords (and PKCS#12s) held by the parsed JSON before it is freed (jansson frees without
 * wiping). json_string_value is const for callers that share values; this tree is ours. */
static void wipe_json_secrets(json_t *root)
{
    static const char *const secret_keys[] = {"password", "pfx"};
    size_t i;
    json_t *entry;
    json_array_foreach(root, i, entry) {
        for (size_t k = 0; k < CG_ARRAY_LEN(secret_keys); k++) {
            json_t *v = json_is_object(entry) ? json_object_get(entry, secret_keys[k]) : NULL;
            if (json_is_string(v)) cg_wipe((char *)json_string_value(v), json_string_length(v));
        }
    }
}

/* The targets of one pin_to list, checked against every earlier entry. */
static int parse_pin_to(const json_t *pins, size_t idx, const struct cg_mendix_env *env,
                        struct cg_strlist *out, struct cg_err *err)
{
    char b[SHOW_MAX + 4];
    if (!json_is_array(pins)) {
        fail(err, CG_EINVAL, "CLIENT_CERTIFICATES[%zu]: 'pin_to' must be a list of names, not %s",
             idx, json_kind(pins));
        hint(err, "write \"pin_to\": [\"Module.Service\", \"host.example\"]");
        return CG_EINVAL;
    }
    if (json_array_size(pins) > CG_MENDIX_MAX_ENTRIES) {
        fail(err, CG_ELIMIT, "CLIENT_CERTIFICATES[%zu]: 'pin_to' has %zu names, more than the "
                             "limit of %d", idx, json_array_size(pins), CG_MENDIX_MAX_ENTRIES);
        hint(err, "pin the rest with 'certgate pin set TARGET CERT' after the import");
        return CG_ELIMIT;
    }
    size_t j;
    json_t *t;
    json_array_foreach(pins, j, t) {
        if (!json_is_string(t) || !target_valid(json_string_value(t))) {
            fail(err, CG_EINVAL, "CLIENT_CERTIFICATES[%zu]: 'pin_to'[%zu] %s", idx, j,
                 !json_is_string(t) ? "is not a string"
                 : json_string_value(t)[0] ? "holds whitespace or a control character"
                                            : "is empty");
            hint(err, "each name is a web service (\"Module.Service\") or a host "
                      "(\"www.example.com\")");
            return CG_EINVAL;
        }
        const char *name = json_string_value(t);
        if (cg_strlist_contains(out, name)) {
            fail(err, CG_EINVAL, "CLIENT_CERTIFICATES[%zu]: 'pin_to' names '%s' twice", idx,
                 show(name, b));
            hint(err, "list each service or host once");
            return CG_EINVAL;
        }
        for (size_t k = 0; k < env->n_certs; k++)
            if (cg_strlist_contains(&env->certs[k].pin_to, name)) {
                fail(err, CG_EINVAL, "CLIENT_CERTIFICATES[%zu]: '%s' is already pinned to "
                                     "CLIENT_CERTIFICATES[%zu]", idx, show(name, b), k);
                hint(err, "a service or host can use one client certificate; remove it from "
                          "one of the two 'pin_to' lists");
                return CG_EINVAL;
            }
        if (cg_strlist_add(out, name) < 0) return nomem(err, "CLIENT_CERTIFICATES");
    }
    return 0;
}

static int parse_env_entry(const json_t *entry, size_t idx, const struct cg_mendix_env *env,
                           struct cg_mendix_env_cert *c, struct cg_err *err)
{
    char b[SHOW_MAX + 4];
    if (!json_is_object(entry)) {
        fail(err, CG_EINVAL, "CLIENT_CERTIFICATES[%zu] must be an object, not %s", idx,
             json_kind(entry));
        hint(err, "write {\"pfx\": \"<base64 PKCS#12>\", \"password\": \"...\", \"pin_to\": [...]}");
        return CG_EINVAL;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)entry, key, v) {
        if (strcmp(key, "pfx") != 0 && strcmp(key, "password") != 0 && strcmp(key, "pin_to") != 0) {
            fail(err, CG_EINVAL, "CLIENT_CERTIFICATES[%zu]: unknown key '%s'", idx, show(key, b));
            hint(err, "the known keys are: pfx, password, pin_to");
            return CG_EINVAL;
        }
    }
    const json_t *pfx = json_object_get(entry, "pfx");
    if (!pfx) {
        fail(err, CG_EINVAL, "CLIENT_CERTIFICATES[%zu]: 'pfx' is missing", idx);
        hint(err, "give the PKCS#12 file as base64: \"pfx\": \"MIIK...\" (base64 -w0 file.pfx)");
        return CG_EINVAL;
    }
    struct cg_slice pfx_text = json_is_string(pfx) ? cg_slice_trim(cg_slice_make(json_string_value(pfx),
                                                                                 json_string_length(pfx)))
                                                   : cg_slice_make(NULL, 0);
    if (pfx_text.len == 0) { /* whitespace only decodes to nothing: as empty as "" */
        fail(err, CG_EINVAL, "CLIENT_CERTIFICATES[%zu]: 'pfx' must be a non-empty string, not %s",
             idx, json_is_string(pfx) ? "an empty one" : json_kind(pfx));
        hint(err, "give the PKCS#12 file as base64: \"pfx\": \"MIIK...\" (base64 -w0 file.pfx)");
        return CG_EINVAL;
    }
    if (cg_base64_decode(pfx_text, &c->pfx) < 0) {
        fail(err, CG_EPROTO, "CLIENT_CERTIFICATES[%zu]: 'pfx' is not valid base64", idx);
        hint(err, "encode the PKCS#12 file with the standard alphabet and padding "
                  "(base64 -w0 file.pfx)");
        return CG_EPROTO;
    }
    const json_t *pw = json_object_get(entry, "password");
    if (pw && !json_is_string(pw)) {
        fail(err, CG_EINVAL, "CLIENT_CERTIFICATES[%zu]: 'password' must be a string, not %s", idx,
             json_kind(pw));
        hint(err, "quote the password; use \"\" (or leave the key out) for a file without one");
        return CG_EINVAL;
    }
    c->password = cg_strdup(pw ? json_string_value(pw) : "");
    if (!c->password) return nomem(err, "CLIENT_CERTIFICATES");
    const json_t *pins = json_object_get(entry, "pin_to");
    if (pins) CG_GUARD(parse_pin_to(pins, idx, env, &c->pin_to, err));
    return 0;
}

int cg_mendix_env_parse(struct cg_slice client_certificates, struct cg_mendix_env *out,
                        struct cg_err *err)
{
    static const char *S = "CLIENT_CERTIFICATES";
    out->certs = NULL;
    out->n_certs = 0;
    json_t *root = NULL;
    CG_GUARD(load_json(S, (const char *)client_certificates.ptr, client_certificates.len, true,
                       &root, err));
    struct cg_mendix_env env = {NULL, 0};
    int rc = 0;
    if (!json_is_array(root)) {
        rc = fail(err, CG_EINVAL, "%s must be a JSON list, not %s", S, json_kind(root));
        hint(err, "write [{\"pfx\": \"<base64 PKCS#12>\", \"password\": \"...\", \"pin_to\": "
                  "[\"Module.Service\"]}]");
        goto out;
    }
    size_t n = json_array_size(root);
    if (n > CG_MENDIX_MAX_ENTRIES) {
        rc = fail(err, CG_ELIMIT, "%s: %zu certificates, more than the limit of %d", S, n,
                  CG_MENDIX_MAX_ENTRIES);
        hint(err, "import them in several steps");
        goto out;
    }
    env.certs = cg_calloc(n, sizeof(*env.certs));
    if (!env.certs) {
        rc = nomem(err, S);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct cg_mendix_env_cert *c = &env.certs[i];
        cg_buf_init_secret(&c->pfx, CG_MENDIX_MAX_JSON);
        c->password = NULL;
        cg_strlist_init(&c->pin_to);
        rc = parse_env_entry(json_array_get(root, i), i, &env, c, err);
        if (rc < 0) {
            env_cert_cleanup(c);
            goto out;
        }
        env.n_certs++;
    }
out:
    if (json_is_array(root)) wipe_json_secrets(root);
    json_decref(root);
    if (rc < 0) {
        cg_mendix_env_cleanup(&env);
        return rc;
    }
    *out = env;
    return 0;
}

int cg_mendix_authorities_decode(struct cg_slice text, struct cg_buf *out, struct cg_err *err)
{
    static const char *S = "CERTIFICATE_AUTHORITIES";
    if (text.len > CG_MENDIX_MAX_JSON) {
        fail(err, CG_ELIMIT, "%s: %zu bytes is more than the limit of %d", S, text.len,
             CG_MENDIX_MAX_JSON);
        hint(err, "add the CA certificates with 'certgate ca add NAME FILE' instead");
        return CG_ELIMIT;
    }
    if (cg_slice_find(text, "-----BEGIN") >= 0) {
        int rc = cg_buf_append(out, text.ptr, text.len);
        if (rc == CG_ELIMIT) {
        fail(err, rc, "%s: larger than the output allows", S);
        hint(err, "add the CA certificates with 'certgate ca add NAME FILE' instead");
        return rc;
    }
        if (rc < 0) return nomem(err, S);
        return 0;
    }
    if (cg_slice_trim(text).len == 0) {
        fail(err, CG_EINVAL, "%s is empty", S);
        hint(err, "give the CA certificates as PEM text (-----BEGIN CERTIFICATE-----...), or "
                  "the base64 of that text");
        return CG_EINVAL;
    }
    struct cg_buf pem;
    cg_buf_init(&pem, CG_MENDIX_MAX_JSON);
    int rc = cg_base64_decode(text, &pem);
    if (rc == CG_ENOMEM) {
        cg_buf_cleanup(&pem);
        return nomem(err, S);
    }
    if (rc < 0) {
        cg_buf_cleanup(&pem);
        fail(err, CG_EPROTO, "%s is neither PEM text nor valid base64", S);
        hint(err, "give the CA certificates as PEM text (-----BEGIN CERTIFICATE-----...), or "
                  "the base64 of that text (base64 -w0 ca.pem)");
        return CG_EPROTO;
    }
    if (cg_slice_find(cg_buf_slice(&pem), "-----BEGIN") < 0) {
        bool der = pem.len > 0 && pem.ptr[0] == 0x30;
        fail(err, CG_EFORMAT, "%s: the base64 text decodes to %zu bytes that are not PEM%s", S,
             pem.len, der ? " (they look like DER)" : "");
        hint(err, "%s", der ? "convert the certificate to PEM first (openssl x509 -inform der "
                              "-in ca.der) and give that text or its base64"
                            : "give the CA certificates as PEM text, or the base64 of that text");
        cg_buf_cleanup(&pem);
        return CG_EFORMAT;
    }
    rc = cg_buf_append(out, pem.ptr, pem.len);
    cg_buf_cleanup(&pem);
    if (rc == CG_ELIMIT) {
        fail(err, rc, "%s: larger than the output allows", S);
        hint(err, "add the CA certificates with 'certgate ca add NAME FILE' instead");
        return rc;
    }
    if (rc < 0) return nomem(err, S);
    return 0;
}
