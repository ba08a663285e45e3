/* The admin API: routes over the CLI's commands (api.h). A request becomes a command's arguments
 * in three steps: its body (JSON, or multipart/form-data turned into the same JSON shape: a file
 * part `file` becomes `data_base64`, `key` becomes `key_base64` ...) and query become one JSON
 * object; the route's field table maps each member to a positional, an option, an inline file
 * or the password; then the command runs through cg_cli_exec in API mode. Unknown members are
 * refused (a typo must not be silently ignored), members that only GET answers (fingerprints,
 * rules ...) are accepted and ignored, so that what GET returns can be PUT back. */
#include "admin/api.h"

#include <openssl/x509.h>
#include <string.h>
#include <strings.h>

#include "admin/ui.h"
#include "core/base64.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "core/time.h"
#include "http/multipart.h"
#include "pki/pki.h"

#define MAX_PARAMS 4
#define MAX_SEGMENT 1024

/* ---- routes --------------------------------------------------------------------------------- */

enum ftype {
    F_POS,     /* a string or number -> the positional `pos` */
    F_NAME,    /* the object's name in a body sent to its own path: must equal it */
    F_OPT,     /* a string or number -> --opt VALUE; null -> --null_opt (when the command has it) */
    F_LIST,    /* an array of strings (or one string) -> --opt for each; [] or null -> --null_opt */
    F_FLAG,    /* true ("true", "on", "1" from a form) -> --opt */
    F_BOOL,    /* true -> --opt, false -> --null_opt (when the command has them) */
    F_FILE,    /* base64 -> the inline input `opt` ("file": the FILE positional `pos`) */
    F_FILES,   /* an array of base64 (or one) -> inline inputs `opt`, each with its --opt */
    F_SECRET,  /* the password; with opt "secret": a webhook's signing secret (null -> --null_opt) */
    F_PINCERT, /* a certificate name or null ("none") -> the positional `pos` */
    F_DOMAIN,  /* "host[=cert]" or {"host", "cert"} -> --opt; null -> --null_opt */
    F_DOMAINS, /* an array of those */
    F_SIGNERS, /* "ca[@fp,...]" or {"ca", "signers": [...]}, in an array -> --opt each; [] -> --null_opt */
    F_TRUST,   /* "system+env" -> --null_opt (when the command has it); an array of CA names -> --opt each */
    F_TEXT,    /* a string (or JSON, given as its text) -> the inline input `opt` (the platform's
                * environment variables of `import mendix --from-env`) */
    F_IGNORE,  /* what GET answers but cannot be set */
};

struct field {
    const char *key;
    enum ftype type;
    const char *opt;
    const char *null_opt;
    int pos;
};

struct route {
    const char *method;
    const char *path;     /* "/api/v1/sites/{}": {} is one path parameter */
    const char *when;     /* "key" (the body has it) or "key=value"; NULL: always */
    const char *group, *name;
    const char *pos[4];   /* "{0}": a path parameter, "=rm": a literal; NULL: none */
    const char *flag;     /* an option always added ("replace") */
    const struct field *fields;
    int ok;               /* the status of success */
    const char *pick;     /* answer only this member of the command's JSON */
};

#define END {NULL, F_IGNORE, NULL, NULL, 0}

static const struct field cert_fields[] = {
    {"name", F_POS, NULL, NULL, 0},           {"kind", F_OPT, "kind", NULL, 0},
    {"data_base64", F_FILE, "file", NULL, 1}, {"password", F_SECRET, NULL, NULL, 0},
    {"key_base64", F_FILE, "key", NULL, 0},   {"chain_base64", F_FILE, "chain", NULL, 0},
    {"default", F_FLAG, "default", NULL, 0},  {"replace", F_FLAG, "replace", NULL, 0},
    {"filename", F_IGNORE, NULL, NULL, 0},    END,
};
static const struct field cert_put_fields[] = {
    {"name", F_NAME, NULL, NULL, 0},          {"kind", F_OPT, "kind", NULL, 0},
    {"data_base64", F_FILE, "file", NULL, 1}, {"password", F_SECRET, NULL, NULL, 0},
    {"key_base64", F_FILE, "key", NULL, 0},   {"chain_base64", F_FILE, "chain", NULL, 0},
    {"default", F_FLAG, "default", NULL, 0},  {"filename", F_IGNORE, NULL, NULL, 0},
    END,
};
static const struct field cert_default_fields[] = {
    {"name", F_NAME, NULL, NULL, 0}, {"default", F_FLAG, "default", NULL, 0}, END,
};
static const struct field ca_fields[] = {
    {"name", F_POS, NULL, NULL, 0},          {"data_base64", F_FILE, "file", NULL, 1},
    {"crl_base64", F_FILES, "crl", NULL, 0}, {"replace", F_FLAG, "replace", NULL, 0},
    {"kind", F_IGNORE, NULL, NULL, 0},       {"filename", F_IGNORE, NULL, NULL, 0},
    END,
};
static const struct field ca_put_fields[] = {
    {"name", F_NAME, NULL, NULL, 0},         {"data_base64", F_FILE, "file", NULL, 1},
    {"crl_base64", F_FILES, "crl", NULL, 0}, {"kind", F_IGNORE, NULL, NULL, 0},
    {"filename", F_IGNORE, NULL, NULL, 0},   END,
};
static const struct field pin_fields[] = {
    {"target", F_POS, NULL, NULL, 0}, {"cert", F_PINCERT, NULL, NULL, 1}, {"match", F_IGNORE, NULL, NULL, 0}, END,
};
static const struct field pin_put_fields[] = {
    {"target", F_NAME, NULL, NULL, 0}, {"cert", F_PINCERT, NULL, NULL, 1}, {"match", F_IGNORE, NULL, NULL, 0}, END,
};
static const struct field resolve_fields[] = {
    {"host", F_POS, NULL, NULL, 0}, {"service", F_OPT, "service", NULL, 0}, END,
};
#define UPSTREAM_FIELDS                                                                                             \
    {"url", F_OPT, "url", NULL, 0}, {"trust", F_TRUST, "ca", "no-ca", 0},                                          \
        {"server_name", F_OPT, "server-name", "no-server-name", 0},                                               \
        {"spki_sha256", F_OPT, "spki-sha256", "no-spki", 0},                                                       \
        {"connect_timeout_ms", F_OPT, "connect-timeout", NULL, 0}, {"timeout_ms", F_OPT, "timeout", NULL, 0},     \
        {"host", F_IGNORE, NULL, NULL, 0}, {"port", F_IGNORE, NULL, NULL, 0}, {"base_path", F_IGNORE, NULL, NULL, 0}
/* the first entry of a key wins: add takes the URL as its positional; a null is a no-op for add,
 * which has none of the --no-* options (has_opt) */
static const struct field upstream_add_fields[] = {
    {"name", F_POS, NULL, NULL, 0}, {"url", F_POS, NULL, NULL, 1}, UPSTREAM_FIELDS,
    {"replace", F_FLAG, "replace", NULL, 0}, END,
};
static const struct field upstream_set_fields[] = {{"name", F_NAME, NULL, NULL, 0}, UPSTREAM_FIELDS, END};
#define SITE_FIELDS                                                                                                 \
    {"backend", F_OPT, "backend", NULL, 0}, {"mtls", F_OPT, "mtls", NULL, 0},                                      \
        {"domains", F_DOMAINS, "domain", NULL, 0}, {"mtls_domain", F_DOMAIN, "mtls-domain", "no-mtls-domain", 0},  \
        {"client_cas", F_LIST, "client-ca", "no-client-ca", 0}, {"rules", F_IGNORE, NULL, NULL, 0}
static const struct field site_add_fields[] = {
    {"name", F_POS, NULL, NULL, 0}, SITE_FIELDS, {"replace", F_FLAG, "replace", NULL, 0}, END,
};
static const struct field site_set_fields[] = {{"name", F_NAME, NULL, NULL, 0}, SITE_FIELDS, END};
static const struct field rule_fields[] = {
    {"path", F_POS, NULL, NULL, 1}, {"profile", F_POS, NULL, NULL, 2}, {"site", F_IGNORE, NULL, NULL, 0}, END,
};
static const struct field rule_put_fields[] = {
    {"profile", F_POS, NULL, NULL, 2}, {"path", F_IGNORE, NULL, NULL, 0}, {"site", F_IGNORE, NULL, NULL, 0}, END,
};
#define PROFILE_FIELDS                                                                                              \
    {"allow_ips", F_LIST, "allow-ip", "no-allow-ip", 0}, {"deny_ips", F_LIST, "deny-ip", "no-deny-ip", 0},         \
        {"client_cas", F_SIGNERS, "client-ca", "no-client-ca", 0}, {"rules", F_IGNORE, NULL, NULL, 0}
static const struct field profile_add_fields[] = {
    {"name", F_POS, NULL, NULL, 0}, PROFILE_FIELDS, {"replace", F_FLAG, "replace", NULL, 0}, END,
};
static const struct field profile_set_fields[] = {{"name", F_NAME, NULL, NULL, 0}, PROFILE_FIELDS, END};
static const struct field token_fields[] = {
    {"name", F_POS, NULL, NULL, 0}, {"role", F_OPT, "role", NULL, 0}, {"expires_days", F_OPT, "expires", NULL, 0}, END,
};
static const struct field audit_fields[] = {
    {"limit", F_OPT, "limit", NULL, 0}, {"before", F_OPT, "before", NULL, 0}, END,
};
static const struct field import_fields[] = {
    {"client_certificates", F_TEXT, "CLIENT_CERTIFICATES", NULL, 0},
    {"certificate_authorities", F_TEXT, "CERTIFICATE_AUTHORITIES", NULL, 0},
    {"replace", F_FLAG, "replace", NULL, 0},
    END,
};
static const struct field check_fields[] = {{"days", F_OPT, "days", NULL, 0}, END};
#define WEBHOOK_FIELDS                                                                                              \
    {"client_cert", F_OPT, "client-cert", NULL, 0}, {"ca", F_OPT, "ca", "no-ca", 0},                              \
        {"trust", F_OPT, "trust", NULL, 0}, {"secret", F_SECRET, "secret", "no-secret", 0},                        \
        {"events", F_LIST, "events", "all-events", 0}, {"disabled", F_BOOL, "disabled", "enabled", 0},             \
        {"host", F_IGNORE, NULL, NULL, 0}, {"port", F_IGNORE, NULL, NULL, 0}, {"path", F_IGNORE, NULL, NULL, 0},   \
        {"signed", F_IGNORE, NULL, NULL, 0}, {"problem", F_IGNORE, NULL, NULL, 0},                                 \
        {"problem_at", F_IGNORE, NULL, NULL, 0}, {"pending", F_IGNORE, NULL, NULL, 0},                             \
        {"failed", F_IGNORE, NULL, NULL, 0}
static const struct field webhook_add_fields[] = {
    {"name", F_POS, NULL, NULL, 0}, {"url", F_POS, NULL, NULL, 1}, WEBHOOK_FIELDS, END,
};
static const struct field webhook_set_fields[] = {
    {"name", F_NAME, NULL, NULL, 0}, {"url", F_OPT, "url", NULL, 0}, WEBHOOK_FIELDS, END,
};
static const struct field deliveries_fields[] = {
    {"status", F_OPT, "status", NULL, 0}, {"limit", F_OPT, "limit", NULL, 0}, END,
};
static const struct field event_fields[] = {{"type", F_POS, NULL, NULL, 0}, {"data", F_TEXT, "data", NULL, 0}, END};
static const struct field no_fields[] = {END};

#define P0 {"{0}", NULL, NULL, NULL}
#define NOPOS {NULL, NULL, NULL, NULL}

static const struct route routes[] = {
    {"GET", "/api/v1/certificates", NULL, "cert", "list", NOPOS, NULL, no_fields, 200, NULL},
    {"POST", "/api/v1/certificates", "kind=ca", "ca", "add", NOPOS, NULL, ca_fields, 201, NULL},
    {"POST", "/api/v1/certificates", NULL, "cert", "add", NOPOS, NULL, cert_fields, 201, NULL},
    {"GET", "/api/v1/certificates/{}", NULL, "cert", "show", P0, NULL, no_fields, 200, NULL},
    {"PUT", "/api/v1/certificates/{}", "kind=ca", "ca", "add", P0, "replace", ca_put_fields, 200, NULL},
    {"PUT", "/api/v1/certificates/{}", "data_base64", "cert", "add", P0, "replace", cert_put_fields, 200, NULL},
    {"PUT", "/api/v1/certificates/{}", NULL, "cert", "set", P0, NULL, cert_default_fields, 200, NULL},
    {"DELETE", "/api/v1/certificates/{}", NULL, "cert", "rm", P0, NULL, no_fields, 204, NULL},
    {"GET", "/api/v1/authorities", NULL, "ca", "list", NOPOS, NULL, no_fields, 200, NULL},
    {"POST", "/api/v1/authorities", NULL, "ca", "add", NOPOS, NULL, ca_fields, 201, NULL},
    {"GET", "/api/v1/authorities/{}", NULL, "ca", "show", P0, NULL, no_fields, 200, NULL},
    {"PUT", "/api/v1/authorities/{}", NULL, "ca", "add", P0, "replace", ca_put_fields, 200, NULL},
    {"DELETE", "/api/v1/authorities/{}", NULL, "ca", "rm", P0, NULL, no_fields, 204, NULL},
    {"GET", "/api/v1/pins", NULL, "pin", "list", NOPOS, NULL, no_fields, 200, NULL},
    {"POST", "/api/v1/pins", NULL, "pin", "set", NOPOS, NULL, pin_fields, 201, NULL},
    {"GET", "/api/v1/pins/resolve", NULL, "pin", "resolve", NOPOS, NULL, resolve_fields, 200, NULL},
    {"GET", "/api/v1/pins/{}", NULL, "pin", "show", P0, NULL, no_fields, 200, NULL},
    {"PUT", "/api/v1/pins/{}", NULL, "pin", "set", P0, NULL, pin_put_fields, 200, NULL},
    {"DELETE", "/api/v1/pins/{}", NULL, "pin", "rm", P0, NULL, no_fields, 204, NULL},
    {"GET", "/api/v1/upstreams", NULL, "upstream", "list", NOPOS, NULL, no_fields, 200, NULL},
    {"POST", "/api/v1/upstreams", NULL, "upstream", "add", NOPOS, NULL, upstream_add_fields, 201, NULL},
    {"GET", "/api/v1/upstreams/{}", NULL, "upstream", "show", P0, NULL, no_fields, 200, NULL},
    {"PUT", "/api/v1/upstreams/{}", NULL, "upstream", "set", P0, NULL, upstream_set_fields, 200, NULL},
    {"DELETE", "/api/v1/upstreams/{}", NULL, "upstream", "rm", P0, NULL, no_fields, 204, NULL},
    {"GET", "/api/v1/sites", NULL, "site", "list", NOPOS, NULL, no_fields, 200, NULL},
    {"POST", "/api/v1/sites", NULL, "site", "add", NOPOS, NULL, site_add_fields, 201, NULL},
    {"GET", "/api/v1/sites/{}", NULL, "site", "show", P0, NULL, no_fields, 200, NULL},
    {"PUT", "/api/v1/sites/{}", NULL, "site", "set", P0, NULL, site_set_fields, 200, NULL},
    {"DELETE", "/api/v1/sites/{}", NULL, "site", "rm", P0, NULL, no_fields, 204, NULL},
    {"GET", "/api/v1/sites/{}/rules", NULL, "site", "show", P0, NULL, no_fields, 200, "rules"},
    {"POST", "/api/v1/sites/{}/rules", NULL, "site", "rule", P0, NULL, rule_fields, 201, NULL},
    {"PUT", "/api/v1/sites/{}/rules/{}", NULL, "site", "rule", {"{0}", "{1}", NULL, NULL}, NULL, rule_put_fields, 200,
     NULL},
    {"DELETE", "/api/v1/sites/{}/rules/{}", NULL, "site", "rule", {"=rm", "{0}", "{1}", NULL}, NULL, no_fields, 204,
     NULL},
    {"GET", "/api/v1/profiles", NULL, "profile", "list", NOPOS, NULL, no_fields, 200, NULL},
    {"POST", "/api/v1/profiles", NULL, "profile", "add", NOPOS, NULL, profile_add_fields, 201, NULL},
    {"GET", "/api/v1/profiles/{}", NULL, "profile", "show", P0, NULL, no_fields, 200, NULL},
    {"PUT", "/api/v1/profiles/{}", NULL, "profile", "set", P0, NULL, profile_set_fields, 200, NULL},
    {"DELETE", "/api/v1/profiles/{}", NULL, "profile", "rm", P0, NULL, no_fields, 204, NULL},
    {"GET", "/api/v1/tokens", NULL, "token", "list", NOPOS, NULL, no_fields, 200, NULL},
    {"POST", "/api/v1/tokens", NULL, "token", "add", NOPOS, NULL, token_fields, 201, NULL},
    {"GET", "/api/v1/tokens/{}", NULL, "token", "show", P0, NULL, no_fields, 200, NULL},
    {"DELETE", "/api/v1/tokens/{}", NULL, "token", "rm", P0, NULL, no_fields, 204, NULL},
    {"GET", "/api/v1/audit", NULL, NULL, "audit", NOPOS, NULL, audit_fields, 200, NULL},
    {"GET", "/api/v1/check", NULL, NULL, "check", NOPOS, NULL, check_fields, 200, NULL},
    {"POST", "/api/v1/import/mendix", NULL, "import", "mendix", NOPOS, "from-env", import_fields, 201, NULL},
    {"GET", "/api/v1/webhooks", NULL, "webhook", "list", NOPOS, NULL, no_fields, 200, NULL},
    {"POST", "/api/v1/webhooks", NULL, "webhook", "add", NOPOS, NULL, webhook_add_fields, 201, NULL},
    {"GET", "/api/v1/webhooks/{}", NULL, "webhook", "show", P0, NULL, no_fields, 200, NULL},
    {"PUT", "/api/v1/webhooks/{}", NULL, "webhook", "set", P0, NULL, webhook_set_fields, 200, NULL},
    {"DELETE", "/api/v1/webhooks/{}", NULL, "webhook", "rm", P0, NULL, no_fields, 204, NULL},
    {"GET", "/api/v1/webhooks/{}/deliveries", NULL, "webhook", "deliveries", P0, NULL, deliveries_fields, 200, NULL},
    {"GET", "/api/v1/deliveries/{}", NULL, "webhook", "delivery", P0, NULL, no_fields, 200, NULL},
    {"POST", "/api/v1/deliveries/{}/replay", NULL, "webhook", "replay", P0, NULL, no_fields, 202, NULL},
    {"POST", "/api/v1/events", NULL, "event", "send", NOPOS, NULL, event_fields, 202, NULL},
};

/* ---- one request ---------------------------------------------------------------------------- */

struct call {
    const struct cg_admin_request *rq;
    struct cg_admin_response *rs;
    char params[MAX_PARAMS][MAX_SEGMENT];
    size_t n_params;
    json_t *in;                /* body and query as one object */
    json_t *filenames;         /* multipart: field -> the uploaded file's name */
    struct cg_strlist strs;    /* strings the arguments point to */
    struct cg_buf files[CG_CLI_MAX_INPUTS];
    size_t n_files;
    struct cg_cli_args args;
    char *password;
    char *secret;              /* a webhook's signing secret */
    const char *field;         /* the input member an error concerns, when known */
};

static void call_cleanup(struct call *c)
{
    json_decref(c->in);
    json_decref(c->filenames);
    for (size_t i = 0; i < c->strs.n; i++) cg_wipe(c->strs.items[i], strlen(c->strs.items[i])); /* may hold secrets */
    cg_strlist_cleanup(&c->strs);
    for (size_t i = 0; i < c->n_files; i++) cg_buf_cleanup(&c->files[i]);
    cg_free_secret_str(c->password);
    cg_free_secret_str(c->secret);
}

/* Sets the response body; a body that cannot be kept turns the answer into a bare 500. */
static void body_set(struct cg_admin_response *rs, const char *s, size_t n)
{
    cg_buf_reset(&rs->body);
    if (!s || cg_buf_append(&rs->body, s, n) < 0) {
        rs->status = 500;
        cg_buf_reset(&rs->body);
    }
}

static const char *keep(struct call *c, const char *s)
{
    return cg_strlist_add(&c->strs, s) == 0 ? c->strs.items[c->strs.n - 1] : NULL;
}

/* The failure of a command or of reading the request: the status and code follow from err. */
static int status_of(int code, const char **name);
static void fail(struct call *c, int status, const char *code, const struct cg_err *err);
static void fail_err(struct call *c, int rc, const struct cg_err *err)
{
    const char *code = NULL;
    int status = status_of(rc, &code);
    fail(c, status, code, err);
}

static void fail(struct call *c, int status, const char *code, const struct cg_err *err)
{
    cg_admin_error_full(c->rs, status, code, err->msg[0] ? err->msg : cg_err_reason(err->code), err->hint, c->field);
}

static void fail_msg(struct call *c, int status, const char *code, const char *msg)
{
    cg_admin_error_full(c->rs, status, code, msg, NULL, c->field);
}

/* The HTTP status and code of a command's failure. */
static int status_of(int code, const char **name)
{
    switch (code) {
    case CG_ENOTFOUND: *name = "not_found"; return 404;
    case CG_EEXISTS: *name = "conflict"; return 409;
    case CG_EINUSE: *name = "in_use"; return 409;
    case CG_ELIMIT: *name = "too_large"; return 413;
    case CG_EPASSWORD: *name = "wrong_password"; return 400;
    case CG_ESTORE:
    case CG_ENOSTORE:
    case CG_EIO: *name = "store_error"; return 500;
    case CG_ENOMEM:
    case CG_EINTERNAL: *name = "internal"; return 500;
    default: *name = "invalid"; return 400;
    }
}

/* Matches path (percent-encoded) against a route pattern, decoding the parameters. */
static bool path_match(struct call *c, const char *pattern, struct cg_slice path)
{
    const char *p = pattern, *s = (const char *)path.ptr, *end = s + path.len;
    c->n_params = 0;
    while (*p && s < end) {
        if (*p != '/' || *s != '/') return false;
        p++, s++;
        const char *seg = s;
        while (s < end && *s != '/') s++;
        size_t seg_len = (size_t)(s - seg);
        const char *pe = strchr(p, '/');
        size_t pat_len = pe ? (size_t)(pe - p) : strlen(p);
        if (pat_len == 2 && !strncmp(p, "{}", 2)) {
            if (seg_len == 0 || c->n_params == MAX_PARAMS) return false;
            if (cg_admin_pct_decode(cg_slice_make(seg, seg_len), false, c->params[c->n_params], MAX_SEGMENT) < 0)
                return false;
            c->n_params++;
        } else if (pat_len != seg_len || strncmp(p, seg, seg_len)) {
            return false;
        }
        p += pat_len;
    }
    return !*p && s == end;
}

static bool when_holds(const char *when, json_t *in)
{
    if (!when) return true;
    const char *eq = strchr(when, '=');
    char key[64];
    cg_strlcpy(key, when, eq && (size_t)(eq - when) < sizeof(key) ? (size_t)(eq - when) + 1 : sizeof(key));
    json_t *v = json_object_get(in, key);
    if (!eq) return v != NULL;
    return json_is_string(v) && !strcasecmp(json_string_value(v), eq + 1);
}

/* ---- the request's input as one JSON object ------------------------------------------------- */

/* The JSON name of a form's file field, or NULL for a text field. */
static const char *form_file_key(struct cg_slice name)
{
    static const struct {
        const char *field, *key;
    } files[] = {{"file", "data_base64"}, {"key", "key_base64"}, {"chain", "chain_base64"}, {"crl", "crl_base64"}};
    for (size_t i = 0; i < CG_ARRAY_LEN(files); i++)
        if (cg_slice_eq_str(name, files[i].field)) return files[i].key;
    return NULL;
}

/* Appends ", s" (or s first) to list. */
static void list_add(char *list, size_t n, const char *s)
{
    size_t used = strlen(list);
    if (used < n) snprintf(list + used, n - used, "%s%s", used ? ", " : "", s);
}

/* multipart/form-data: text fields as strings (a repeated field as an array), file fields as
 * base64 under the JSON API's names. */
static int form_to_json(struct call *c, const struct cg_multipart *mp, struct cg_err *err)
{
    for (size_t i = 0; i < mp->n; i++) {
        const struct cg_multipart_part *p = &mp->parts[i];
        char name[64];
        if (p->name.len == 0 || p->name.len >= sizeof(name))
            return cg_err_set(err, CG_EPROTO, "form field %zu has no usable name", i + 1);
        memcpy(name, p->name.ptr, p->name.len);
        name[p->name.len] = '\0';
        const char *fk = form_file_key(p->name);
        /* a browser sends every input of the form, the ones left empty too */
        if (p->data.len == 0) continue;
        json_t *v;
        if (fk) {
            struct cg_buf b64;
            cg_buf_init(&b64, 0);
            int rc = cg_base64_encode(p->data, &b64);
            v = rc == 0 ? json_stringn((const char *)b64.ptr, b64.len) : NULL;
            cg_buf_cleanup(&b64);
            if (p->filename.len)
                json_object_set_new(c->filenames, fk, json_stringn((const char *)p->filename.ptr, p->filename.len));
            cg_strlcpy(name, fk, sizeof(name));
        } else {
            v = json_stringn((const char *)p->data.ptr, p->data.len);
            if (!v) return cg_err_set(err, CG_EPROTO, "form field '%s' is not UTF-8 text", name);
        }
        if (!v) return cg_err_set(err, CG_ENOMEM, "out of memory");
        json_t *old = json_object_get(c->in, name);
        if (!old) {
            json_object_set_new(c->in, name, v);
        } else if (json_is_array(old)) {
            json_array_append_new(old, v);
        } else {
            json_t *arr = json_array();
            json_array_append(arr, old);
            json_array_append_new(arr, v);
            json_object_set_new(c->in, name, arr);
        }
    }
    return 0;
}

static int body_to_json(struct call *c, struct cg_err *err)
{
    const struct cg_admin_request *rq = c->rq;
    if (rq->body_len == 0) return 0;
    const struct cg_http_header *ct = cg_http_header_find(rq->headers, rq->n_headers, "content-type");
    struct cg_slice type = ct ? ct->value : cg_slice_str("");
    if (type.len >= 16 && !strncasecmp((const char *)type.ptr, "application/json", 16)) {
        json_error_t je;
        json_t *v = json_loadb((const char *)rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
        if (!v) return cg_err_set(err, CG_EPROTO, "the body is not valid JSON: %s (line %d, column %d)", je.text,
                                  je.line, je.column);
        if (!json_is_object(v)) {
            json_decref(v);
            return cg_err_set(err, CG_EPROTO, "the body must be a JSON object");
        }
        json_object_update(c->in, v);
        json_decref(v);
        return 0;
    }
    struct cg_slice boundary;
    const char *why = NULL;
    if (cg_multipart_boundary(type, &boundary, &why) == 0) {
        struct cg_multipart mp;
        if (cg_multipart_parse(rq->body, rq->body_len, boundary, &mp, &why) < 0)
            return cg_err_set(err, CG_EPROTO, "the form data is malformed: %s", why);
        return form_to_json(c, &mp, err);
    }
    cg_err_set(err, CG_EPROTO, "a body of type '%.*s' is not understood", (int)type.len, (const char *)type.ptr);
    return cg_err_hint(err, "send application/json, or multipart/form-data (a browser form)");
}

static int query_to_json(struct call *c, struct cg_err *err)
{
    struct cg_slice q = c->rq->query;
    const char *s = (const char *)q.ptr, *end = s + q.len;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *item_end = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(item_end - s));
        char key[64], val[MAX_SEGMENT];
        const char *kend = eq ? eq : item_end;
        if (cg_admin_pct_decode(cg_slice_make(s, (size_t)(kend - s)), true, key, sizeof(key)) < 0 ||
            cg_admin_pct_decode(eq ? cg_slice_make(eq + 1, (size_t)(item_end - eq - 1)) : cg_slice_str(""), true,
                                val, sizeof(val)) < 0)
            return cg_err_set(err, CG_EPROTO, "the query string is malformed");
        if (key[0]) json_object_set_new(c->in, key, json_string(val));
        s = amp ? amp + 1 : end;
    }
    return 0;
}

/* ---- the input as a command's arguments ----------------------------------------------------- */

static bool has_opt(const struct cg_cli_cmd *cmd, const char *name)
{
    return name && cg_cli_find_opt(cmd, name);
}

static int add(struct call *c, const struct cg_cli_cmd *cmd, const char *opt, const char *val, struct cg_err *err)
{
    if (val && !(val = keep(c, val))) return cg_err_set(err, CG_ENOMEM, "out of memory");
    return cg_cli_args_add(cmd, &c->args, opt, val, err);
}

/* A string, or an integer as decimal text; NULL for anything else. */
static const char *scalar(json_t *v, char *buf, size_t n)
{
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return NULL;
}

static int bad_type(const char *key, const char *want, struct cg_err *err)
{
    cg_err_set(err, CG_EUSAGE, "field '%s' must be %s", key, want);
    return cg_err_hint(err, "see docs/api.md for the shape of each object");
}

static int domain_value(json_t *v, char *out, size_t n, const char *key, struct cg_err *err)
{
    if (json_is_string(v)) {
        cg_strlcpy(out, json_string_value(v), n);
        return 0;
    }
    json_t *host = json_object_get(v, "host"), *cert = json_object_get(v, "cert");
    if (!json_is_object(v) || !json_is_string(host) || (cert && !json_is_null(cert) && !json_is_string(cert)))
        return bad_type(key, "\"host\", \"host=cert\" or {\"host\": ..., \"cert\": ...}", err);
    snprintf(out, n, "%s%s%s", json_string_value(host), json_is_string(cert) ? "=" : "",
             json_is_string(cert) ? json_string_value(cert) : "");
    return 0;
}

static int signer_value(json_t *v, char *out, size_t n, const char *key, struct cg_err *err)
{
    if (json_is_string(v)) {
        cg_strlcpy(out, json_string_value(v), n);
        return 0;
    }
    json_t *ca = json_object_get(v, "ca"), *signers = json_object_get(v, "signers");
    if (!json_is_object(v) || !json_is_string(ca) || (signers && !json_is_array(signers)))
        return bad_type(key, "\"ca\", \"ca@fingerprint,...\" or {\"ca\": ..., \"signers\": [...]}", err);
    size_t used = (size_t)snprintf(out, n, "%s", json_string_value(ca));
    size_t i;
    json_t *fp;
    json_array_foreach(signers, i, fp)
    {
        if (!json_is_string(fp)) return bad_type(key, "a list of SHA-256 fingerprints in \"signers\"", err);
        if (used < n) used += (size_t)snprintf(out + used, n - used, "%s%s", i ? "," : "@", json_string_value(fp));
    }
    return used < n ? 0 : cg_err_set(err, CG_ELIMIT, "field '%s' is too long", key);
}

static int file_value(struct call *c, const struct cg_cli_cmd *cmd, const struct field *f, json_t *v, int idx,
                      struct cg_err *err)
{
    if (!json_is_string(v)) return bad_type(f->key, "the file's content in base64", err);
    if (c->n_files == CG_ARRAY_LEN(c->files) || c->args.n_inputs == CG_CLI_MAX_INPUTS)
        return cg_err_set(err, CG_ELIMIT, "too many files in one request");
    struct cg_buf *b = &c->files[c->n_files++];
    cg_buf_init_secret(b, CG_PKI_MAX_INPUT);
    if (cg_base64_decode(cg_slice_str(json_string_value(v)), b) < 0) {
        cg_err_set(err, CG_EFORMAT, "field '%s' is not valid base64", f->key);
        return cg_err_hint(err, "send the file's bytes in standard base64 (RFC 4648), or upload it as a form file");
    }
    json_t *fn = json_object_get(c->filenames, f->key);
    if (!fn && !strcmp(f->opt, "file")) fn = json_object_get(c->in, "filename");
    char label[256];
    snprintf(label, sizeof(label), "%s", json_is_string(fn) ? json_string_value(fn) : f->key);
    if (idx > 0 && !json_is_string(fn)) snprintf(label, sizeof(label), "%s[%d]", f->key, idx);
    const char *l = keep(c, label);
    if (!l) return cg_err_set(err, CG_ENOMEM, "out of memory");
    c->args.inputs[c->args.n_inputs++] = (struct cg_cli_input){f->opt, b->ptr, b->len};
    if (!strcmp(f->opt, "file")) {
        c->args.pos[f->pos] = l;
        return 0;
    }
    return cg_cli_args_add(cmd, &c->args, f->opt, l, err);
}

static bool truthy(json_t *v)
{
    if (json_is_true(v)) return true;
    if (!json_is_string(v)) return false;
    const char *s = json_string_value(v);
    return !strcasecmp(s, "true") || !strcasecmp(s, "on") || !strcmp(s, "1") || !strcasecmp(s, "yes");
}

static bool falsy(const char *s)
{
    return !strcasecmp(s, "false") || !strcasecmp(s, "off") || !strcmp(s, "0") || !strcasecmp(s, "no");
}

static int apply_field(struct call *c, const struct cg_cli_cmd *cmd, const struct field *f, json_t *v,
                       struct cg_err *err)
{
    char buf[2048];
    const char *s;
    size_t i;
    json_t *item;
    switch (f->type) {
    case F_IGNORE: return 0;
    case F_NAME:
        if (!(s = scalar(v, buf, sizeof(buf))) || strcmp(s, c->params[0])) {
            cg_err_set(err, CG_EUSAGE, "field '%s' is '%s' but the path names '%s'", f->key, s ? s : "?", c->params[0]);
            return cg_err_hint(err, "an object is renamed by adding it under the new name and removing the old one");
        }
        return 0;
    case F_POS:
        if (!(s = scalar(v, buf, sizeof(buf)))) return bad_type(f->key, "a string", err);
        return (c->args.pos[f->pos] = keep(c, s)) ? 0 : cg_err_set(err, CG_ENOMEM, "out of memory");
    case F_PINCERT:
        if (json_is_null(v)) s = "none";
        else if (!(s = scalar(v, buf, sizeof(buf)))) return bad_type(f->key, "a certificate name or null", err);
        return (c->args.pos[f->pos] = keep(c, s)) ? 0 : cg_err_set(err, CG_ENOMEM, "out of memory");
    case F_OPT:
        if (json_is_null(v)) return has_opt(cmd, f->null_opt) ? add(c, cmd, f->null_opt, NULL, err) : 0;
        if (!(s = scalar(v, buf, sizeof(buf)))) return bad_type(f->key, "a string or a number", err);
        return add(c, cmd, f->opt, s, err);
    case F_FLAG:
        if (json_is_false(v) || json_is_null(v)) return 0;
        if (!truthy(v)) return bad_type(f->key, "true or false", err);
        return add(c, cmd, f->opt, NULL, err);
    case F_BOOL:
        if (json_is_null(v)) return 0;
        if (truthy(v)) return has_opt(cmd, f->opt) ? add(c, cmd, f->opt, NULL, err) : 0;
        if (!json_is_false(v) && !(json_is_string(v) && falsy(json_string_value(v))))
            return bad_type(f->key, "true or false", err);
        return has_opt(cmd, f->null_opt) ? add(c, cmd, f->null_opt, NULL, err) : 0;
    case F_SECRET: {
        bool webhook = f->opt && !strcmp(f->opt, "secret");
        if (webhook && json_is_null(v)) return has_opt(cmd, f->null_opt) ? add(c, cmd, f->null_opt, NULL, err) : 0;
        if (!json_is_string(v)) return bad_type(f->key, "a string", err);
        char **kept = webhook ? &c->secret : &c->password;
        cg_free_secret_str(*kept);
        if (!(*kept = cg_strdup(json_string_value(v)))) return cg_err_set(err, CG_ENOMEM, "out of memory");
        if (webhook) c->args.secret = *kept;
        else c->args.password = *kept;
        return 0;
    }
    case F_FILE: return file_value(c, cmd, f, v, 0, err);
    case F_TEXT: {
        char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        s = json_is_string(v) ? keep(c, json_string_value(v)) : text ? keep(c, text) : NULL;
        if (text) cg_wipe(text, strlen(text));
        free(text);
        if (!s) return cg_err_set(err, CG_ENOMEM, "out of memory");
        if (c->args.n_inputs == CG_CLI_MAX_INPUTS) return cg_err_set(err, CG_ELIMIT, "too many inputs");
        c->args.inputs[c->args.n_inputs++] = (struct cg_cli_input){f->opt, (const uint8_t *)s, strlen(s)};
        return 0;
    }
    case F_FILES:
        if (!json_is_array(v)) return file_value(c, cmd, f, v, 0, err);
        json_array_foreach(v, i, item) CG_GUARD(file_value(c, cmd, f, item, (int)i, err));
        return 0;
    case F_DOMAIN:
        if (json_is_null(v)) return has_opt(cmd, f->null_opt) ? add(c, cmd, f->null_opt, NULL, err) : 0;
        CG_GUARD(domain_value(v, buf, sizeof(buf), f->key, err));
        return add(c, cmd, f->opt, buf, err);
    case F_TRUST:
        if (json_is_string(v) && !strcmp(json_string_value(v), "system+env"))
            return has_opt(cmd, f->null_opt) ? add(c, cmd, f->null_opt, NULL, err) : 0;
        __attribute__((fallthrough)); /* a list of CA names */
    case F_LIST:
    case F_DOMAINS:
    case F_SIGNERS:
        if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0))
            return has_opt(cmd, f->null_opt) ? add(c, cmd, f->null_opt, NULL, err) : 0;
        if (!json_is_array(v)) {
            if (f->type == F_LIST && json_is_string(v)) return add(c, cmd, f->opt, json_string_value(v), err);
            return bad_type(f->key, "a list", err);
        }
        json_array_foreach(v, i, item)
        {
            if (f->type == F_DOMAINS) CG_GUARD(domain_value(item, buf, sizeof(buf), f->key, err));
            else if (f->type == F_SIGNERS) CG_GUARD(signer_value(item, buf, sizeof(buf), f->key, err));
            else if (!json_is_string(item)) return bad_type(f->key, "a list of names", err);
            else cg_strlcpy(buf, json_string_value(item), sizeof(buf));
            CG_GUARD(add(c, cmd, f->opt, buf, err));
        }
        return 0;
    }
    return 0;
}

/* The entry of key (the first, when a table lists a key twice), or the END entry. */
static const struct field *field_find(const struct field *fields, const char *key)
{
    while (fields->key && strcmp(fields->key, key)) fields++;
    return fields;
}

static int build_args(struct call *c, const struct route *r, const struct cg_cli_cmd *cmd, struct cg_err *err)
{
    memset(&c->args, 0, sizeof(c->args));
    for (size_t i = 0; i < CG_ARRAY_LEN(r->pos) && r->pos[i]; i++) {
        const char *p = r->pos[i];
        if (p[0] == '{') c->args.pos[i] = c->params[p[1] - '0'];
        else c->args.pos[i] = p + 1; /* "=literal" */
    }
    if (r->flag) CG_GUARD(cg_cli_args_add(cmd, &c->args, r->flag, NULL, err));
    const char *key;
    json_t *v;
    json_object_foreach(c->in, key, v)
    {
        const struct field *f = field_find(r->fields, key);
        c->field = f->key ? f->key : key;
        if (!f->key) {
            cg_err_set(err, CG_EUSAGE, "unknown field '%s' for %s %s", key, r->method, r->path);
            char known[512] = "";
            for (f = r->fields; f->key; f++)
                if (f->type != F_IGNORE && field_find(r->fields, f->key) == f) list_add(known, sizeof(known), f->key);
            return cg_err_hint(err, "the fields are: %s", known[0] ? known : "(none)");
        }
        CG_GUARD(apply_field(c, cmd, f, v, err));
    }
    c->field = NULL;
    int n = 0;
    while (n < CG_CLI_MAX_ARGS && c->args.pos[n]) n++;
    c->args.n_pos = n;
    if (n < cmd->min_pos) {
        const struct field *f = r->fields;
        while (f->key && !((f->type == F_POS || f->type == F_PINCERT || (f->type == F_FILE && !strcmp(f->opt, "file"))) &&
                           f->pos == n))
            f++;
        c->field = f->key;
        cg_err_set(err, CG_EUSAGE, "field '%s' is required", f->key ? f->key : "?");
        return cg_err_hint(err, "see docs/api.md for the fields of %s %s", r->method, r->path);
    }
    return 0;
}

/* ---- authentication ------------------------------------------------------------------------- */

struct who {
    char name[129];
    enum cg_cli_role role;
};

static bool bearer(const struct cg_admin_request *rq, struct cg_slice *token)
{
    const struct cg_http_header *h = cg_http_header_find(rq->headers, rq->n_headers, "authorization");
    if (!h || h->value.len < 8 || strncasecmp((const char *)h->value.ptr, "Bearer ", 7)) return false;
    *token = cg_slice_make((const char *)h->value.ptr + 7, h->value.len - 7);
    return token->len > 0;
}

static void unauthorized(struct call *c, const char *why)
{
    fail_msg(c, 401, "unauthorized", why);
    cg_strlcpy(c->rs->extra_headers, "WWW-Authenticate: Bearer realm=\"certgate\"\r\n", sizeof(c->rs->extra_headers));
}

/* A verified client certificate of admin.client_ca (the server verified it): an admin. */
static bool cert_admin(const struct cg_admin_request *rq, struct who *who)
{
    char cn[100] = "";
    X509_NAME *subject = X509_get_subject_name(rq->client_cert);
    if (X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof(cn)) < 0 || !cn[0]) {
        char *line = X509_NAME_oneline(subject, cn, sizeof(cn));
        if (!line) cg_strlcpy(cn, "?", sizeof(cn));
    }
    snprintf(who->name, sizeof(who->name), "cert:%s", cn);
    who->role = CG_ROLE_ADMIN;
    return true;
}

static bool authenticate(struct cg_admin_api *api, struct call *c, struct who *who)
{
    struct cg_slice tok;
    if (!bearer(c->rq, &tok) && api->cert_admins && c->rq->tls && c->rq->client_cert) return cert_admin(c->rq, who);
    if (!bearer(c->rq, &tok)) {
        unauthorized(c, "this needs a token: send 'Authorization: Bearer <token>' (certgate token add NAME --role ROLE "
                        "makes one)");
        return false;
    }
    char hash[65];
    if (cg_cli_token_hash((const char *)tok.ptr, tok.len, hash) < 0) {
        unauthorized(c, "the token cannot be checked");
        return false;
    }
    struct cg_store_token t = {0};
    struct cg_err err;
    cg_err_clear(&err);
    int rc = cg_store_token_find(api->cli->store, api->cli->env, hash, &t, &err);
    bool ok = false;
    int64_t now = (int64_t)cg_time_now();
    if (rc == CG_ENOTFOUND) unauthorized(c, "the token is not valid (unknown or removed)");
    else if (rc < 0) fail(c, 500, "store_error", &err);
    else if (t.expires_at && now >= t.expires_at) unauthorized(c, "the token has expired; ask an admin for a new one");
    else if (cg_cli_role_parse(t.role, &who->role) < 0) unauthorized(c, "the token's role is unknown");
    else ok = true;
    if (ok) {
        cg_strlcpy(who->name, t.name, sizeof(who->name));
        if (now - t.last_used_at >= 60 && cg_store_token_touch(api->cli->store, api->cli->env, t.name, now, &err) < 0)
            CG_LOG_W("admin: cannot record the use of token '%s': %s", t.name, err.msg);
    }
    cg_store_token_cleanup(&t);
    return ok;
}

/* ---- running a command ---------------------------------------------------------------------- */

/* The member whose option the command's message names ("--mtls must be ..."), or NULL. */
static const char *field_of_option(const char *msg, const struct route *r)
{
    for (const char *p = strstr(msg, "--"); p; p = strstr(p + 2, "--")) {
        const char *name = p + 2;
        size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz-");
        for (const struct field *f = r->fields; n && f->key; f++)
            if (f->opt && strlen(f->opt) == n && !strncmp(f->opt, name, n) && f->type != F_FILE) return f->key;
    }
    return NULL;
}

/* The input member a command's failure most likely concerns (for forms that show an error next
 * to its field), or NULL. */
static const char *field_of(int rc, const char *msg, const struct route *r)
{
    const char *by_option = field_of_option(msg, r);
    if (by_option) return by_option;
    const char *want = NULL;
    switch (rc) {
    case CG_EPASSWORD: want = "password"; break;
    case CG_EEXISTS: want = "name"; break;
    case CG_ECERT:
    case CG_EFORMAT:
    case CG_EKEYMISMATCH:
    case CG_EEXPIRED: want = "data_base64"; break;
    default: return NULL;
    }
    for (const struct field *f = r->fields; f->key; f++)
        if (!strcmp(f->key, want)) return f->key;
    return NULL;
}

static json_t *whoami(const struct who *who)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(who->name));
    json_object_set_new(o, "role", json_string(cg_cli_role_name(who->role)));
    return o;
}

static void answer(struct call *c, int status, json_t *v)
{
    c->rs->status = status;
    cg_buf_reset(&c->rs->body);
    if (status == 204 || !v) return;
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    body_set(c->rs, s, s ? strlen(s) : 0);
    free(s);
}

static void run_route(struct cg_admin_api *api, struct call *c, const struct route *r, const struct who *who)
{
    const struct cg_cli_cmd *cmd = cg_cli_find(r->group, r->name);
    struct cg_err err;
    cg_err_clear(&err);
    if (!cmd) {
        cg_err_set(&err, CG_EINTERNAL, "the command of %s %s is missing from this build", r->method, r->path);
        fail(c, 500, "internal", &err);
        return;
    }
    enum cg_cli_role need = cg_cli_cmd_role(cmd);
    if (!cg_cli_role_allows(who->role, cmd)) {
        bool events = need == CG_ROLE_EVENTS;
        cg_err_set(&err, CG_EUSAGE, "token '%s' has the role %s; %s %s needs %s%s", who->name,
                   cg_cli_role_name(who->role), r->method, r->path, events ? "operator or " : "",
                   cg_cli_role_name(need));
        if (who->role == CG_ROLE_EVENTS)
            cg_err_hint(&err, "a token of role events may only post events (POST /api/v1/events); use a token with "
                              "the role %s for this",
                        cg_cli_role_name(need));
        else
            cg_err_hint(&err, "use a token with that role (an admin makes one: certgate token add NAME --role %s)",
                        cg_cli_role_name(need));
        fail(c, 403, "forbidden", &err);
        return;
    }
    if (build_args(c, r, cmd, &err) < 0) {
        fail_err(c, err.code, &err);
        return;
    }
    struct cg_cli cli = *api->cli; /* the daemon's store, environment and key, in API mode */
    struct cg_strlist warnings;
    cg_strlist_init(&warnings);
    cli.api = cli.json = true;
    cli.capture = false;
    cli.out = NULL;
    cli.actor = who->name;
    cli.warnings = &warnings;
    int rc = cg_cli_exec(&cli, cmd, &c->args, &err);
    json_t *out = cli.out;
    if (rc < 0) {
        c->field = field_of(rc, err.msg, r);
        fail_err(c, rc, &err);
    } else {
        json_t *v = r->pick && json_is_object(out) ? json_object_get(out, r->pick) : out;
        if (json_is_object(v) && warnings.n && !json_object_get(v, "warnings")) {
            json_t *w = json_array();
            for (size_t i = 0; i < warnings.n; i++) json_array_append_new(w, json_string(warnings.items[i]));
            json_object_set_new(v, "warnings", w);
        }
        json_t *empty = v ? NULL : json_object(); /* a command without output (rm): {} or 204 */
        answer(c, r->ok, v ? v : empty);
        json_decref(empty);
        if (cmd->object && api->changed) api->changed(api->arg);
        /* an event, a replay, or a change (config.changed) may have queued deliveries */
        if (need != CG_ROLE_VIEWER && api->events_posted) api->events_posted(api->arg);
    }
    json_decref(out);
    cg_strlist_cleanup(&warnings);
}

/* ---- the handler ---------------------------------------------------------------------------- */

static void healthz(struct call *c)
{
    c->rs->status = 200;
    c->rs->content_type = "text/plain; charset=utf-8";
    body_set(c->rs, "ok\n", 3);
}

void cg_admin_api_handle(void *arg, const struct cg_admin_request *rq, struct cg_admin_response *rs)
{
    struct cg_admin_api *api = arg;
    struct call c;
    memset(&c, 0, sizeof(c));
    c.rq = rq;
    c.rs = rs;
    cg_strlist_init(&c.strs);
    rs->content_type = NULL;
    bool head = cg_slice_eq_str(rq->method, "HEAD");
    struct cg_slice method = head ? cg_slice_str("GET") : rq->method;

    if (cg_slice_eq_str(rq->path, "/healthz")) {
        healthz(&c);
        return;
    }
    bool api_path = rq->path.len >= 7 && !memcmp(rq->path.ptr, "/api/v1", 7);
    bool metrics = cg_slice_eq_str(rq->path, "/metrics");
    const struct cg_admin_asset *asset = api_path || metrics ? NULL : cg_admin_ui_find(rq->path);
    if (asset && cg_slice_eq_str(method, "GET")) {
        /* the page itself holds no data: it is served without a token, and asks for one */
        rs->status = 200;
        rs->content_type = asset->content_type;
        snprintf(rs->extra_headers, sizeof(rs->extra_headers),
                 "Content-Security-Policy: default-src 'self'; img-src 'self' data:; style-src 'self'; "
                 "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action "
                 "'self'\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n");
        body_set(rs, (const char *)asset->data, asset->len);
        return;
    }
    if (!api_path && !metrics) {
        fail_msg(&c, 404, "not_found", "nothing is served at this path (the API is under /api/v1/)");
        return;
    }
    struct who who;
    if (!authenticate(api, &c, &who)) return;
    if (who.role == CG_ROLE_EVENTS && (metrics || cg_slice_eq_str(rq->path, "/api/v1/status"))) {
        fail_msg(&c, 403, "forbidden", "a token of role events may only post events (POST /api/v1/events)");
        return;
    }
    if (metrics) {
        if (!api->metrics || !cg_slice_eq_str(method, "GET")) {
            fail_msg(&c, 404, "not_found", "metrics are not available");
            return;
        }
        rs->status = 200;
        rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
        if (api->metrics(api->arg, &rs->body) < 0) fail_msg(&c, 500, "internal", "cannot render the metrics");
        return;
    }
    if (cg_slice_eq_str(rq->path, "/api/v1/whoami") || cg_slice_eq_str(rq->path, "/api/v1/status")) {
        bool me = cg_slice_eq_str(rq->path, "/api/v1/whoami");
        json_t *st = me ? whoami(&who) : api->status ? api->status(api->arg) : json_object();
        answer(&c, 200, st);
        json_decref(st);
        return;
    }
    c.in = json_object();
    c.filenames = json_object();
    struct cg_err err;
    cg_err_clear(&err);
    bool path_known = false;
    char allow[64] = "";
    const struct route *r = NULL;
    int rc = query_to_json(&c, &err);
    if (rc == 0) rc = body_to_json(&c, &err);
    for (size_t i = 0; rc == 0 && i < CG_ARRAY_LEN(routes) && !r; i++) {
        if (!path_match(&c, routes[i].path, rq->path)) continue;
        path_known = true;
        if (!strstr(allow, routes[i].method)) list_add(allow, sizeof(allow), routes[i].method);
        if (cg_slice_eq_str(method, routes[i].method) && when_holds(routes[i].when, c.in)) r = &routes[i];
    }
    if (rc < 0) {
        fail_err(&c, rc, &err);
    } else if (r) {
        run_route(api, &c, r, &who);
    } else if (path_known) {
        char msg[128];
        snprintf(msg, sizeof(msg), "this resource answers %s", allow);
        fail_msg(&c, 405, "method_not_allowed", msg);
        snprintf(rs->extra_headers, sizeof(rs->extra_headers), "Allow: %s\r\n", allow);
    } else {
        fail_msg(&c, 404, "not_found", "no such resource in /api/v1 (see docs/api.md)");
    }
    call_cleanup(&c);
}
