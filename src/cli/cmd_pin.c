/* certgate pin set|list|rm|resolve. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "config/snapshot.h"
#include "core/str.h"

static int run_set(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *target = a->pos[0], *cert = a->pos[1];
    enum cg_pin_target_kind kind;
    CG_GUARD(cg_pin_target_parse(target, &kind, err));
    CG_GUARD(cg_cli_store(cli, false, err));
    bool none = strcmp(cert, "none") == 0;
    CG_GUARD(cg_store_pin_put(cli->store, cli->env, target, none ? NULL : cert, err));
    if (none)
        cg_cli_say(cli, "pinned %s -> none (no client certificate is presented)\n", target);
    else
        cg_cli_say(cli, "pinned %s -> %s\n", target, cert);
    return 0;
}

static int run_rm(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    CG_GUARD(cg_store_pin_delete(cli->store, cli->env, a->pos[0], err));
    cg_cli_say(cli, "removed pin %s\n", a->pos[0]);
    return 0;
}

static const char *kind_name(const char *target);

/* The JSON object of one pin (docs/cli.md). */
static json_t *pin_json(const struct cg_store_pin *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "target", json_string(p->target));
    json_object_set_new(o, "cert", cg_json_str_or_null(p->cert_name));
    json_object_set_new(o, "match", json_string(kind_name(p->target)));
    return o;
}

static int run_show(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_pin_list pins = {0};
    CG_GUARD(cg_store_pin_list(cli->store, cli->env, &pins, err));
    const struct cg_store_pin *p = NULL;
    for (size_t i = 0; i < pins.n && !p; i++)
        if (!strcmp(pins.items[i].target, a->pos[0])) p = &pins.items[i];
    int rc = 0;
    if (!p) {
        cg_err_set(err, CG_ENOTFOUND, "no pin for '%s' in environment '%s'", a->pos[0], cli->env);
        rc = cg_err_hint(err, "list the pins with: certgate pin list");
    } else if (cli->json) {
        rc = cg_cli_json_out(cli, pin_json(p));
    } else {
        printf("target:       %s\ncertificate:  %s\nmatches as:   %s\n", p->target,
               p->cert_name ? p->cert_name : "none", kind_name(p->target));
    }
    cg_store_pin_list_cleanup(&pins);
    return rc;
}

static const char *kind_name(const char *target)
{
    enum cg_pin_target_kind k;
    if (cg_pin_target_parse(target, &k, NULL) < 0) return "invalid";
    switch (k) {
    case CG_PIN_TARGET_HOST_PORT: return "host:port";
    case CG_PIN_TARGET_WILDCARD: return "wildcard";
    default: return "service or host";
    }
}

static int run_list(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_UNUSED(a);
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_pin_list pins = {0};
    CG_GUARD(cg_store_pin_list(cli->store, cli->env, &pins, err));
    int rc = 0;
    if (cli->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < pins.n; i++) json_array_append_new(arr, pin_json(&pins.items[i]));
        rc = cg_cli_json_out(cli, arr);
    } else if (pins.n == 0) {
        printf("no pins in environment '%s' (add one with: certgate pin set TARGET CERT)\n", cli->env);
    } else {
        static const char *head[] = {"TARGET", "CERTIFICATE", "MATCHES AS"};
        struct cg_table t;
        cg_table_init(&t, 3, head);
        for (size_t i = 0; i < pins.n && rc == 0; i++) {
            const char *cells[] = {pins.items[i].target, pins.items[i].cert_name ? pins.items[i].cert_name : "none",
                                   kind_name(pins.items[i].target)};
            rc = cg_table_row(&t, cells);
        }
        if (rc == 0) cg_table_print(&t);
        cg_table_cleanup(&t);
    }
    cg_store_pin_list_cleanup(&pins);
    return rc;
}

/* Splits "host", "host:port", "[v6]" or "[v6]:port" for resolution. */
static int split_dest(const char *dest, struct cg_slice *host, uint16_t *port, struct cg_err *err)
{
    const char *colon = NULL;
    if (dest[0] == '[') {
        const char *close = strchr(dest, ']');
        if (!close) goto bad;
        *host = cg_slice_make(dest + 1, (size_t)(close - dest - 1));
        if (close[1] == ':') colon = close + 1;
        else if (close[1]) goto bad;
    } else {
        colon = strchr(dest, ':');
        if (colon && strchr(colon + 1, ':')) { /* a bare IPv6 address */
            *host = cg_slice_str(dest);
            colon = NULL;
        } else {
            *host = cg_slice_make(dest, colon ? (size_t)(colon - dest) : strlen(dest));
        }
    }
    *port = 0;
    if (colon) {
        uint64_t p;
        if (cg_str_to_u64(colon + 1, &p) < 0 || p == 0 || p > 65535) goto bad;
        *port = (uint16_t)p;
    }
    if (host->len == 0) goto bad;
    return 0;
bad:
    cg_err_set(err, CG_EUSAGE, "'%s' is not a destination", dest);
    return cg_err_hint(err, "give HOST or HOST:PORT, e.g. api.partner.example:8443 or [2001:db8::1]:443");
}

static const struct cg_cli_opt resolve_opts[] = {{"service", true, false}, {NULL, false, false}};

static int run_resolve(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    struct cg_slice host = {0};
    uint16_t port = 0;
    CG_GUARD(split_dest(a->pos[0], &host, &port, err));
    const char *service = cg_cli_opt(a, "service");
    struct cg_snapshot *snap;
    CG_GUARD(cg_cli_snapshot(cli, &snap, err));
    struct cg_pin_match m;
    cg_pin_resolve(snap->pins, host, port, cg_slice_str(service), &m);
    const struct cg_snapshot_cert *c = m.cert >= 0 ? &snap->certs[m.cert] : NULL;
    int rc = 0;
    if (cli->json) {
        json_t *o = json_object();
        json_object_set_new(o, "cert", cg_json_str_or_null(c ? c->name : NULL));
        json_object_set_new(o, "fingerprint_sha256", cg_json_str_or_null(c ? c->fingerprint : NULL));
        json_object_set_new(o, "matched", json_string(cg_pin_rule_name(m.rule)));
        json_object_set_new(o, "target", cg_json_str_or_null(m.target));
        rc = cg_cli_json_out(cli, o);
    } else {
        char dest[300];
        snprintf(dest, sizeof(dest), "%.*s:%u%s%s", (int)host.len, (const char *)host.ptr, port ? port : 443,
                 service ? " for service " : "", service ? service : "");
        switch (m.rule) {
        case CG_PIN_RULE_DEFAULT:
            printf("%s -> %s (the default client certificate; no pin matches)\n", dest, c->name);
            break;
        case CG_PIN_RULE_NONE:
            printf("%s -> none (no pin matches and there is no default certificate)\n", dest);
            break;
        default:
            printf("%s -> %s (pin %s, matched as %s)\n", dest, c ? c->name : "none", m.target, cg_pin_rule_name(m.rule));
        }
        if (c) printf("sha256 %s\n", c->fingerprint);
    }
    cg_snapshot_unref(snap);
    return rc;
}

const struct cg_cli_cmd cg_cli_pin_cmds[] = {
    {"pin", "set", "TARGET CERT|none",
     "present CERT (or no certificate) to TARGET: a service name, host, host:port or *.domain", 2, 2, NULL, run_set, "pin", NULL},
    {"pin", "list", "[--json]", "list pins", 0, 0, NULL, run_list, NULL, NULL},
    {"pin", "show", "TARGET [--json]", "one pin: its target, certificate and how it matches", 1, 1, NULL, run_show, NULL, NULL},
    {"pin", "rm", "TARGET", "remove a pin", 1, 1, NULL, run_rm, "pin", NULL},
    {"pin", "resolve", "HOST[:PORT] [--service NAME] [--json]",
     "which certificate would be presented, and which rule chose it", 1, 1, resolve_opts, run_resolve, NULL, NULL},
    {0},
};
