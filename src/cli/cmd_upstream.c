/* certgate upstream add|set|list|show|rm: named egress destinations (SPEC.md section 1).
 *
 * Every value is checked here, before the store is touched, by the same functions the snapshot
 * applies when the daemon loads the upstream (config/upstream.h); the store then checks what
 * only it can know (the CAs exist and are CA bundles). */
#include <stdio.h>
#include <string.h>

#include "cli/certops.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "config/upstream.h"
#include "core/base64.h"
#include "core/mem.h"
#include "core/str.h"

#define TRUST_ENV "system+env"

static int oom(struct cg_err *err) { return cg_err_set(err, CG_ENOMEM, "out of memory"); }

static int str_set(char **field, const char *v, struct cg_err *err)
{
    char *copy = NULL;
    if (v && !(copy = cg_strdup(v))) return oom(err);
    cg_free(*field);
    *field = copy;
    return 0;
}

static void cas_clear(struct cg_store_upstream *u)
{
    for (size_t i = 0; i < u->n_cas; i++) cg_free(u->cas[i]);
    cg_free(u->cas);
    u->cas = NULL;
    u->n_cas = 0;
}

/* Applies the options of add/set to u (whose name is set), checking each value. */
static int apply_opts(const struct cg_cli_args *a, struct cg_store_upstream *u, struct cg_err *err)
{
    CG_GUARD(cg_cli_opts_exclusive(a, "ca", "no-ca", err));
    CG_GUARD(cg_cli_opts_exclusive(a, "server-name", "no-server-name", err));
    CG_GUARD(cg_cli_opts_exclusive(a, "spki-sha256", "no-spki", err));
    const char *v;
    if ((v = cg_cli_opt(a, "url"))) CG_GUARD(str_set(&u->url, v, err));
    const char *cas[CG_CLI_MAX_OPTS];
    int n = cg_cli_opt_all(a, "ca", cas, CG_CLI_MAX_OPTS);
    if (n > 0 || cg_cli_flag(a, "no-ca")) {
        cas_clear(u);
        if (n > 0 && !(u->cas = cg_calloc((size_t)n, sizeof(*u->cas)))) return oom(err);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++)
                if (!strcmp(cas[i], cas[j])) {
                    cg_err_set(err, CG_EUSAGE, "upstream '%s': --ca '%s' is given twice", u->name, cas[i]);
                    return cg_err_hint(err, "give each CA bundle once");
                }
            if (!*cas[i]) {
                cg_err_set(err, CG_EUSAGE, "upstream '%s': --ca needs the name of a CA bundle", u->name);
                return cg_err_hint(err, "see the CA bundles with: certgate ca list");
            }
            if (!(u->cas[i] = cg_strdup(cas[i]))) return oom(err);
            u->n_cas++;
        }
    }
    if ((v = cg_cli_opt(a, "server-name"))) {
        CG_GUARD(cg_config_upstream_server_name_check(u->name, v, err));
        /* host names compare without case (RFC 4343): stored lowercase, as the URL's host is used */
        char *lower = cg_str_lower_dup(v);
        if (!lower) return oom(err);
        cg_free(u->server_name);
        u->server_name = lower;
    }
    if (cg_cli_flag(a, "no-server-name")) CG_GUARD(str_set(&u->server_name, NULL, err));
    if ((v = cg_cli_opt(a, "spki-sha256"))) {
        /* stored in canonical form: what was decoded, encoded again */
        uint8_t spki[CG_UPSTREAM_SPKI_LEN];
        CG_GUARD(cg_config_upstream_spki_parse(u->name, v, spki, err));
        struct cg_buf b64;
        cg_buf_init(&b64, 128);
        int rc = cg_base64_encode(cg_slice_make(spki, sizeof(spki)), &b64);
        if (rc == 0) rc = str_set(&u->spki_sha256, cg_buf_str(&b64), err);
        cg_buf_cleanup(&b64);
        if (rc < 0) return rc == CG_ENOMEM ? oom(err) : rc;
    }
    if (cg_cli_flag(a, "no-spki")) CG_GUARD(str_set(&u->spki_sha256, NULL, err));
    if ((v = cg_cli_opt(a, "connect-timeout")))
        CG_GUARD(cg_config_upstream_timeout_parse(u->name, "--connect-timeout", v, &u->connect_timeout_ms, err));
    if ((v = cg_cli_opt(a, "timeout")))
        CG_GUARD(cg_config_upstream_timeout_parse(u->name, "--timeout", v, &u->timeout_ms, err));
    /* the URL last: for set it may be the stored one, checked again by today's rules */
    struct cg_upstream_url url;
    CG_GUARD(cg_config_upstream_url_parse(u->name, u->url, &url, err));
    cg_config_upstream_url_cleanup(&url);
    return 0;
}

static void trust_text(const struct cg_store_upstream *u, char *out, size_t n)
{
    if (!u->n_cas) {
        snprintf(out, n, TRUST_ENV);
        return;
    }
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < u->n_cas && used < n; i++) {
        int w = snprintf(out + used, n - used, "%s%s", i ? "," : "", u->cas[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

static void saved_line(const struct cg_cli *cli, const char *verb, const struct cg_store_upstream *u)
{
    char trust[512];
    trust_text(u, trust, sizeof(trust));
    cg_cli_say(cli, "%s upstream '%s' -> %s (trust: %s%s%s%s)\n", verb, u->name, u->url, trust,
           u->server_name ? ", server name " : "", u->server_name ? u->server_name : "",
           u->spki_sha256 ? ", SPKI pinned" : "");
}

static const struct cg_cli_opt add_opts[] = {
    {"ca", true, true},          {"server-name", true, false}, {"spki-sha256", true, false},
    {"connect-timeout", true, false}, {"timeout", true, false}, {"replace", false, false},
    {NULL, false, false},
};

static int run_add(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *name = a->pos[0];
    CG_GUARD(cg_cli_name_check("upstream", name, err));
    struct cg_store_upstream u = {0};
    int rc = 0;
    if (!(u.name = cg_strdup(name)) || !(u.url = cg_strdup(a->pos[1]))) rc = oom(err);
    if (rc == 0) rc = apply_opts(a, &u, err);
    if (rc == 0) rc = cg_cli_store(cli, false, err);
    bool replace = cg_cli_flag(a, "replace");
    if (rc == 0) rc = cg_store_upstream_put(cli->store, cli->env, &u, replace, err);
    if (rc == 0) saved_line(cli, replace ? "stored" : "added", &u);
    cg_store_upstream_cleanup(&u);
    return rc;
}

static const struct cg_cli_opt set_opts[] = {
    {"url", true, false},          {"ca", true, true},          {"no-ca", false, false},
    {"server-name", true, false},  {"no-server-name", false, false}, {"spki-sha256", true, false},
    {"no-spki", false, false},     {"connect-timeout", true, false}, {"timeout", true, false},
    {NULL, false, false},
};

static int run_set(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *name = a->pos[0];
    if (a->n_opts == 0) {
        cg_err_set(err, CG_EUSAGE, "upstream '%s': nothing to set", name);
        return cg_err_hint(err, "give at least one of --url, --ca, --no-ca, --server-name, --no-server-name, "
                                "--spki-sha256, --no-spki, --connect-timeout, --timeout");
    }
    CG_GUARD(cg_cli_store(cli, false, err));
    /* read, change and write in one transaction: a concurrent change is not lost */
    CG_GUARD(cg_store_begin(cli->store, err));
    struct cg_store_upstream u = {0};
    int rc = cg_store_upstream_get(cli->store, cli->env, name, &u, err);
    if (rc == 0) rc = apply_opts(a, &u, err);
    if (rc == 0) rc = cg_store_upstream_put(cli->store, cli->env, &u, true, err);
    if (rc == 0) rc = cg_store_commit(cli->store, err);
    else cg_store_rollback(cli->store);
    if (rc == 0) saved_line(cli, "changed", &u);
    cg_store_upstream_cleanup(&u);
    return rc;
}

static int run_rm(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    CG_GUARD(cg_store_upstream_delete(cli->store, cli->env, a->pos[0], err));
    cg_cli_say(cli, "removed upstream '%s'\n", a->pos[0]);
    return 0;
}

/* The stored upstream with its URL taken apart (by the rules it was stored under). */
static int view_load(const struct cg_store_upstream *u, struct cg_upstream_url *url, struct cg_err *err)
{
    int rc = cg_config_upstream_url_parse(u->name, u->url, url, err);
    if (rc < 0) cg_err_prefix(err, "the store holds an upstream that certgate cannot use");
    return rc;
}

/* The JSON object documented in docs/cli.md. */
static json_t *view_json(const struct cg_store_upstream *u, const struct cg_upstream_url *url)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(u->name));
    json_object_set_new(o, "url", json_string(u->url));
    json_object_set_new(o, "host", json_string(url->host));
    json_object_set_new(o, "port", json_integer(url->port));
    json_object_set_new(o, "base_path", json_string(url->base_path));
    json_object_set_new(o, "server_name", json_string(u->server_name ? u->server_name : url->host));
    if (u->n_cas) {
        json_t *cas = json_array();
        for (size_t i = 0; i < u->n_cas; i++) json_array_append_new(cas, json_string(u->cas[i]));
        json_object_set_new(o, "trust", cas);
    } else {
        json_object_set_new(o, "trust", json_string(TRUST_ENV));
    }
    json_object_set_new(o, "spki_sha256", cg_json_str_or_null(u->spki_sha256));
    /* 0 in the store: the daemon's default, which is not a number the store knows */
    json_object_set_new(o, "connect_timeout_ms",
                        u->connect_timeout_ms ? json_integer(u->connect_timeout_ms) : json_null());
    json_object_set_new(o, "timeout_ms", u->timeout_ms ? json_integer(u->timeout_ms) : json_null());
    return o;
}

static void ms_text(uint32_t ms, char *out, size_t n)
{
    if (ms) snprintf(out, n, "%u ms", ms);
    else snprintf(out, n, "default");
}

static int run_list(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_UNUSED(a);
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_upstream_list ups = {0};
    CG_GUARD(cg_store_upstream_list(cli->store, cli->env, &ups, err));
    json_t *arr = json_array();
    static const char *head[] = {"NAME", "URL", "TRUST", "SERVER NAME", "SPKI PIN", "CONNECT TIMEOUT", "TIMEOUT"};
    struct cg_table t;
    cg_table_init(&t, 7, head);
    int rc = 0;
    for (size_t i = 0; i < ups.n && rc == 0; i++) {
        const struct cg_store_upstream *u = &ups.items[i];
        struct cg_upstream_url url;
        if ((rc = view_load(u, &url, err)) < 0) break;
        if (cli->json) {
            json_array_append_new(arr, view_json(u, &url));
        } else {
            char trust[512], ct[24], to[24];
            trust_text(u, trust, sizeof(trust));
            ms_text(u->connect_timeout_ms, ct, sizeof(ct));
            ms_text(u->timeout_ms, to, sizeof(to));
            const char *cells[] = {u->name, u->url, trust, u->server_name ? u->server_name : url.host,
                                   u->spki_sha256 ? "yes" : "", ct, to};
            rc = cg_table_row(&t, cells);
        }
        cg_config_upstream_url_cleanup(&url);
    }
    if (rc == 0) {
        char empty[200];
        snprintf(empty, sizeof(empty),
                 "no upstreams in environment '%s' (add one with: certgate upstream add NAME https://HOST)", cli->env);
        rc = cg_list_print(cli, &arr, &t, empty);
    }
    json_decref(arr);
    cg_table_cleanup(&t);
    cg_store_upstream_list_cleanup(&ups);
    return rc;
}

static int run_show(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_upstream u = {0};
    CG_GUARD(cg_store_upstream_get(cli->store, cli->env, a->pos[0], &u, err));
    struct cg_upstream_url url;
    int rc = view_load(&u, &url, err);
    if (rc == 0 && cli->json) {
        rc = cg_cli_json_out(cli, view_json(&u, &url));
    } else if (rc == 0) {
        char ct[24], to[24];
        ms_text(u.connect_timeout_ms, ct, sizeof(ct));
        ms_text(u.timeout_ms, to, sizeof(to));
        printf("name:             %s\n", u.name);
        printf("url:              %s\n", u.url);
        printf("host:             %s\n", url.host);
        printf("port:             %u\n", url.port);
        printf("base path:        %s\n", url.base_path[0] ? url.base_path : "(none)");
        printf("server name:      %s%s\n", u.server_name ? u.server_name : url.host,
               u.server_name ? " (override)" : " (the URL's host)");
        if (u.n_cas == 0)
            printf("trust:            " TRUST_ENV " (the system roots and every CA bundle of the environment)\n");
        for (size_t i = 0; i < u.n_cas; i++)
            printf("%s%s%s\n", i ? "                  " : "trust:            ", u.cas[i],
                   i == 0 ? " (only the CA bundles listed)" : "");
        printf("spki sha256:      %s\n", u.spki_sha256 ? u.spki_sha256 : "none (not pinned)");
        printf("connect timeout:  %s\n", ct);
        printf("timeout:          %s\n", to);
    }
    if (rc == 0) cg_config_upstream_url_cleanup(&url);
    cg_store_upstream_cleanup(&u);
    return rc;
}

const struct cg_cli_cmd cg_cli_upstream_cmds[] = {
    {"upstream", "add",
     "NAME URL [--ca CA]... [--server-name NAME] [--spki-sha256 B64] [--connect-timeout MS] [--timeout MS] "
     "[--replace]",
     "add a named egress destination https://host[:port][/base]; --ca (repeatable) trusts only those CA bundles "
     "instead of the system roots and every CA of the environment",
     2, 2, add_opts, run_add, "upstream", NULL},
    {"upstream", "set",
     "NAME [--url URL] [--ca CA]... [--no-ca] [--server-name NAME | --no-server-name] "
     "[--spki-sha256 B64 | --no-spki] [--connect-timeout MS] [--timeout MS]",
     "change an upstream; what is not given is kept (--ca replaces the whole CA list)", 1, 1, set_opts, run_set, "upstream", NULL},
    {"upstream", "list", "[--json]", "list upstreams: URL, trust, server name, SPKI pin, timeouts", 0, 0, NULL,
     run_list, NULL, NULL},
    {"upstream", "show", "NAME [--json]", "every setting of one upstream, with its URL taken apart", 1, 1, NULL,
     run_show, NULL, NULL},
    {"upstream", "rm", "NAME", "remove an upstream", 1, 1, NULL, run_rm, "upstream", NULL},
    {0},
};
