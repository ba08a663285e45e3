/* certgate import mendix: the three local settings, or the two environment variables, as one
 * transaction (any bad entry: nothing is stored, and the message names the entry). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/certops.h"
#include "compat/mendix.h"
#include "config/pins.h"
#include "core/file.h"
#include "core/mem.h"

#define NAME_LEN 128

struct planned {
    char name[NAME_LEN];
    struct cg_pki_identity id;
};

/* A certificate name from a file name: "D:\\App\\Mx1.pfx" -> "Mx1"; characters that names do
 * not allow become '-'; a name used before in this import gets "-2", "-3", ... */
static void name_from_path(const char *path, struct planned *plan, size_t n_before, char *out)
{
    char stem[NAME_LEN - 8];
    cg_path_stem(path, stem, sizeof(stem));
    for (char *p = stem; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (p != stem && (c == '-' || c == '_' || c == '.'));
        if (!ok) *p = p == stem ? 'c' : '-';
    }
    if (!stem[0] || !strcmp(stem, "none")) snprintf(stem, sizeof(stem), "client");
    snprintf(out, NAME_LEN, "%s", stem);
    for (int k = 2;; k++) {
        bool taken = false;
        for (size_t i = 0; i < n_before; i++) taken |= !strcmp(plan[i].name, out);
        if (!taken) return;
        snprintf(out, NAME_LEN, "%s-%d", stem, k);
    }
}

static int load_ca_file(const struct cg_cli *cli, const char *path, STACK_OF(X509) **out, struct cg_err *err)
{
    struct cg_buf buf;
    cg_buf_init(&buf, CG_PKI_MAX_INPUT);
    int rc = cg_cli_read_input(cli, NULL, "file", 0, path, &buf, err);
    if (rc == 0) {
        struct cg_pki_input in = {path, cg_buf_slice(&buf)};
        rc = cg_pki_ca_load(&in, out, err);
    }
    cg_buf_cleanup(&buf);
    return rc;
}

struct import {
    struct planned *certs;
    size_t n_certs;
    STACK_OF(X509) **cas;
    char (*ca_names)[NAME_LEN];
    size_t n_cas;
    /* pins: target -> index into certs, or -1 for none */
    const char **pin_targets;
    int *pin_certs;
    size_t n_pins;
    int default_cert; /* -1 = leave the default alone */
};

static void import_cleanup(struct import *im)
{
    for (size_t i = 0; i < im->n_certs; i++) cg_pki_identity_cleanup(&im->certs[i].id);
    for (size_t i = 0; i < im->n_cas; i++) sk_X509_pop_free(im->cas[i], X509_free);
    cg_free(im->certs);
    cg_free(im->cas);
    cg_free(im->ca_names);
    cg_free(im->pin_targets);
    cg_free(im->pin_certs);
}

static int import_alloc(struct import *im, size_t certs, size_t cas, size_t pins)
{
    memset(im, 0, sizeof(*im));
    im->default_cert = -1;
    im->certs = cg_calloc(certs, sizeof(*im->certs));
    im->cas = cg_calloc(cas, sizeof(*im->cas));
    im->ca_names = cg_calloc(cas, sizeof(*im->ca_names));
    im->pin_targets = cg_calloc(pins, sizeof(*im->pin_targets));
    im->pin_certs = cg_calloc(pins, sizeof(*im->pin_certs));
    CG_ENSURE(im->certs && im->cas && im->ca_names && im->pin_targets && im->pin_certs, CG_ENOMEM);
    return 0;
}

static json_t *names_warnings(const char *name, const struct cg_strlist *w)
{
    json_t *o = json_object(), *a = json_array();
    json_object_set_new(o, "name", json_string(name));
    for (size_t i = 0; i < w->n; i++) json_array_append_new(a, json_string(w->items[i]));
    json_object_set_new(o, "warnings", a);
    return o;
}

/* What an import stored (--json, and the admin API's answer): {"certificates": [{"name",
 * "warnings"}], "authorities": [...], "pins": [{"target", "cert"}], "default": name | null}. */
static json_t *import_json(const struct import *im, const struct cg_strlist *warnings)
{
    json_t *o = json_object(), *certs = json_array(), *cas = json_array(), *pins = json_array();
    for (size_t i = 0; i < im->n_certs; i++) json_array_append_new(certs, names_warnings(im->certs[i].name, &warnings[i]));
    for (size_t i = 0; i < im->n_cas; i++)
        json_array_append_new(cas, names_warnings(im->ca_names[i], &warnings[im->n_certs + i]));
    for (size_t i = 0; i < im->n_pins; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "target", json_string(im->pin_targets[i]));
        json_object_set_new(p, "cert", im->pin_certs[i] < 0 ? json_null() : json_string(im->certs[im->pin_certs[i]].name));
        json_array_append_new(pins, p);
    }
    json_object_set_new(o, "certificates", certs);
    json_object_set_new(o, "authorities", cas);
    json_object_set_new(o, "pins", pins);
    json_object_set_new(o, "default", im->default_cert >= 0 ? json_string(im->certs[im->default_cert].name) : json_null());
    return o;
}

/* Everything is parsed and checked before the transaction starts; then it is all stored, or
 * (on any store error) rolled back. */
static int import_commit(struct cg_cli *cli, struct import *im, bool replace, struct cg_err *err)
{
    CG_GUARD(cg_cli_master(cli, err));
    CG_GUARD(cg_store_begin(cli->store, err));
    struct cg_strlist *warnings = cg_calloc(im->n_certs + im->n_cas + 1, sizeof(*warnings));
    int rc = warnings ? 0 : CG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < im->n_certs; i++) {
        rc = cg_cli_cert_save(cli, im->certs[i].name, CG_CERT_CLIENT, &im->certs[i].id, NULL, NULL, replace,
                              (int)i == im->default_cert, &warnings[i], err);
        if (rc < 0) cg_err_prefix(err, "certificate '%s'", im->certs[i].name);
    }
    for (size_t i = 0; rc == 0 && i < im->n_cas; i++) {
        rc = cg_cli_cert_save(cli, im->ca_names[i], CG_CERT_CA, NULL, im->cas[i], NULL, replace, false,
                              &warnings[im->n_certs + i], err);
        if (rc < 0) cg_err_prefix(err, "ca '%s'", im->ca_names[i]);
    }
    for (size_t i = 0; rc == 0 && i < im->n_pins; i++) {
        int c = im->pin_certs[i];
        rc = cg_store_pin_put(cli->store, cli->env, im->pin_targets[i], c < 0 ? NULL : im->certs[c].name, err);
    }
    if (rc == 0) rc = cg_store_commit(cli->store, err);
    if (rc < 0) {
        cg_store_rollback(cli->store);
        cg_err_hint(err, "nothing was imported; fix the entry and run the import again");
    } else {
        for (size_t i = 0; i < im->n_certs; i++)
            cg_cli_print_saved(cli, "imported", im->certs[i].name, CG_CERT_CLIENT, im->certs[i].id.leaf, 1, &warnings[i]);
        for (size_t i = 0; i < im->n_cas; i++)
            cg_cli_print_saved(cli, "imported", im->ca_names[i], CG_CERT_CA, sk_X509_value(im->cas[i], 0),
                               (size_t)sk_X509_num(im->cas[i]), &warnings[im->n_certs + i]);
        for (size_t i = 0; i < im->n_pins; i++) {
            int c = im->pin_certs[i];
            cg_cli_say(cli, "pinned %s -> %s\n", im->pin_targets[i], c < 0 ? "none" : im->certs[c].name);
        }
        if (im->default_cert >= 0)
            cg_cli_say(cli, "default client certificate: %s (no usages were given)\n", im->certs[im->default_cert].name);
        if (cli->json) rc = cg_cli_json_out(cli, import_json(im, warnings));
    }
    for (size_t i = 0; warnings && i < im->n_certs + im->n_cas; i++) cg_strlist_cleanup(&warnings[i]);
    cg_free(warnings);
    return rc;
}

static int check_target(const char *setting, const char *target, struct cg_err *err)
{
    enum cg_pin_target_kind kind;
    int rc = cg_pin_target_parse(target, &kind, err);
    if (rc < 0) cg_err_prefix(err, "%s", setting);
    return rc;
}

static int import_local(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *certs = cg_cli_opt(a, "client-certificates");
    const char *usages = cg_cli_opt(a, "client-certificate-usages");
    const char *cas_opt = cg_cli_opt(a, "ca-certificates");
    if (!certs && (usages || cg_cli_opt(a, "client-certificate-passwords")))
        return cg_err_set(err, CG_EUSAGE, "--client-certificates is required with the other local settings");
    struct cg_mendix_local m = {0};
    if (certs) CG_GUARD(cg_mendix_local_parse(certs, cg_cli_opt(a, "client-certificate-passwords"), usages, &m, err));
    struct cg_strlist ca_paths;
    cg_strlist_init(&ca_paths);
    struct import im = {0};
    int rc = cas_opt ? cg_strlist_split(&ca_paths, cas_opt, ',', false) : 0;
    if (rc == 0) rc = import_alloc(&im, m.paths.n, ca_paths.n, m.n_usages);
    for (size_t i = 0; rc == 0 && i < m.paths.n; i++) {
        struct planned *p = &im.certs[i];
        cg_pki_identity_init(&p->id);
        im.n_certs++;
        name_from_path(m.paths.items[i], im.certs, i, p->name);
        rc = cg_cli_identity_load(cli, NULL, m.paths.items[i], NULL, NULL, m.passwords.items[i], false, &p->id, err);
        if (rc < 0) cg_err_prefix(err, "ClientCertificates entry %zu", i + 1);
        if (rc == CG_EPASSWORD)
            cg_err_hint(err, "ClientCertificatePasswords entry %zu must be the password of %s", i + 1, m.paths.items[i]);
    }
    for (size_t i = 0; rc == 0 && i < ca_paths.n; i++) {
        im.n_cas++;
        cg_path_stem(ca_paths.items[i], im.ca_names[i], NAME_LEN);
        rc = load_ca_file(cli, ca_paths.items[i], &im.cas[i], err);
        if (rc < 0) cg_err_prefix(err, "--ca-certificates entry %zu", i + 1);
    }
    for (size_t i = 0; rc == 0 && i < m.n_usages; i++) {
        rc = check_target("ClientCertificateUsages", m.usages[i].target, err);
        im.pin_targets[i] = m.usages[i].target;
        im.pin_certs[i] = m.usages[i].cert;
        im.n_pins++;
    }
    if (rc == 0 && !usages && im.n_certs) im.default_cert = 0;
    if (rc == 0) rc = import_commit(cli, &im, cg_cli_flag(a, "replace"), err);
    if (rc < 0 && !err->hint[0]) cg_err_hint(err, "nothing was imported; fix the entry and run the import again");
    if (im.certs || im.cas) import_cleanup(&im);
    cg_strlist_cleanup(&ca_paths);
    cg_mendix_local_cleanup(&m);
    return rc;
}

/* A variable of the platform's environment: given with the request (the admin API), or read from
 * certgate's own environment (the command line only: the API never reads the daemon's). */
static struct cg_slice env_value(const struct cg_cli *cli, const struct cg_cli_args *a, const char *var)
{
    for (int i = 0; i < a->n_inputs; i++)
        if (!strcmp(a->inputs[i].arg, var)) return cg_slice_make(a->inputs[i].data, a->inputs[i].len);
    const char *v = cli->api ? NULL : getenv(var);
    return cg_slice_str(v ? v : "");
}

static int import_env(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    struct cg_slice certs = env_value(cli, a, "CLIENT_CERTIFICATES");
    struct cg_slice cas = env_value(cli, a, "CERTIFICATE_AUTHORITIES");
    if (!certs.len && !cas.len) {
        cg_err_set(err, CG_EUSAGE, "--from-env: neither CLIENT_CERTIFICATES nor CERTIFICATE_AUTHORITIES is set");
        return cg_err_hint(err, "export them as the platform did, e.g. CLIENT_CERTIFICATES='[{\"pfx\": \"...\", "
                                "\"password\": \"...\", \"pin_to\": [\"Module.WS1\"]}]'");
    }
    struct cg_mendix_env m = {0};
    struct cg_buf ca_pem;
    cg_buf_init(&ca_pem, CG_PKI_MAX_INPUT);
    struct import im = {0};
    int rc = 0;
    if (certs.len) rc = cg_mendix_env_parse(certs, &m, err);
    if (rc == 0 && cas.len) rc = cg_mendix_authorities_decode(cas, &ca_pem, err);
    size_t n_pins = 0;
    for (size_t i = 0; i < m.n_certs; i++) n_pins += m.certs[i].pin_to.n;
    if (rc == 0) rc = import_alloc(&im, m.n_certs, ca_pem.len ? 1 : 0, n_pins);
    bool any_pins = false;
    for (size_t i = 0; rc == 0 && i < m.n_certs; i++) {
        struct planned *p = &im.certs[i];
        cg_pki_identity_init(&p->id);
        im.n_certs++;
        snprintf(p->name, NAME_LEN, "client-%zu", i + 1);
        char label[64];
        snprintf(label, sizeof(label), "CLIENT_CERTIFICATES[%zu].pfx", i);
        struct cg_pki_input in = {label, cg_buf_slice(&m.certs[i].pfx)};
        rc = cg_pki_identity_load(&in, NULL, NULL, m.certs[i].password, &p->id, err);
        for (size_t k = 0; rc == 0 && k < m.certs[i].pin_to.n; k++) {
            snprintf(label, sizeof(label), "CLIENT_CERTIFICATES[%zu].pin_to", i);
            rc = check_target(label, m.certs[i].pin_to.items[k], err);
            for (size_t j = 0; rc == 0 && j < im.n_pins; j++)
                if (!strcmp(im.pin_targets[j], m.certs[i].pin_to.items[k])) {
                    rc = cg_err_set(err, CG_EINVAL, "%s: '%s' is pinned to more than one certificate", label,
                                    m.certs[i].pin_to.items[k]);
                    cg_err_hint(err, "each service or host gets one certificate; remove it from one of the entries");
                }
            if (rc == 0) {
                im.pin_targets[im.n_pins] = m.certs[i].pin_to.items[k];
                im.pin_certs[im.n_pins++] = (int)i;
                any_pins = true;
            }
        }
    }
    if (rc == 0 && ca_pem.len) {
        im.n_cas = 1;
        snprintf(im.ca_names[0], NAME_LEN, "authorities");
        struct cg_pki_input in = {"CERTIFICATE_AUTHORITIES", cg_buf_slice(&ca_pem)};
        rc = cg_pki_ca_load(&in, &im.cas[0], err);
    }
    if (rc == 0 && !any_pins && im.n_certs) im.default_cert = 0;
    if (rc == 0) rc = import_commit(cli, &im, cg_cli_flag(a, "replace"), err);
    if (rc < 0 && !err->hint[0]) cg_err_hint(err, "nothing was imported; fix the entry and run the import again");
    if (im.certs || im.cas) import_cleanup(&im);
    cg_buf_cleanup(&ca_pem);
    cg_mendix_env_cleanup(&m);
    return rc;
}

static const struct cg_cli_opt mendix_opts[] = {
    {"client-certificates", true, false},        {"client-certificate-passwords", true, false},
    {"client-certificate-usages", true, false},  {"ca-certificates", true, false},
    {"from-env", false, false},                  {"replace", false, false},
    {NULL, false, false},
};

static int run_mendix(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    bool local = cg_cli_opt(a, "client-certificates") || cg_cli_opt(a, "client-certificate-passwords") ||
                 cg_cli_opt(a, "client-certificate-usages") || cg_cli_opt(a, "ca-certificates");
    bool env = cg_cli_flag(a, "from-env");
    if (local == env) {
        cg_err_set(err, CG_EUSAGE, "import mendix needs either the local settings or --from-env");
        return cg_err_hint(err, "certgate import mendix --client-certificates A.pfx,B.pfx "
                                "--client-certificate-passwords PW1,PW2 [--client-certificate-usages JSON], or "
                                "certgate import mendix --from-env");
    }
    CG_GUARD(cg_cli_store(cli, false, err));
    return env ? import_env(cli, a, err) : import_local(cli, a, err);
}

static const char *import_object(const struct cg_cli_args *a)
{
    CG_UNUSED(a);
    return "mendix";
}

const struct cg_cli_cmd cg_cli_import_cmds[] = {
    {"import", "mendix",
     "[--client-certificates LIST --client-certificate-passwords LIST [--client-certificate-usages JSON] "
     "[--ca-certificates LIST]] | [--from-env] [--replace]",
     "import ClientCertificates/ClientCertificatePasswords/ClientCertificateUsages, or CLIENT_CERTIFICATES and "
     "CERTIFICATE_AUTHORITIES from the environment, in one transaction",
     0, 0, mendix_opts, run_mendix, "import", import_object},
    {0},
};
