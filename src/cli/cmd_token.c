/* certgate token add|list|show|rm: the bearer tokens of the admin API (SPEC.md section 4).
 *
 * A token is "cg_" and 64 lowercase hex characters (32 random bytes). It is made here, shown once
 * and never stored: the store keeps the SHA-256 of the whole string, which is what the admin API
 * computes from a request's bearer token to find it (cg_cli_token_hash). Neither the token nor
 * its hash is ever printed again, and `show --json` (what the audit trail records) holds
 * neither. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "cli/certops.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "core/mem.h"
#include "core/str.h"
#include "core/time.h"

#define TOKEN_PREFIX "cg_"
#define TOKEN_SECRET_BYTES 32
#define TOKEN_LEN (sizeof(TOKEN_PREFIX) - 1 + 2 * TOKEN_SECRET_BYTES)
#define EXPIRES_MAX_DAYS 3650
#define SECONDS_PER_DAY 86400

int cg_cli_token_hash(const char *token, size_t len, char out[65])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    out[0] = '\0';
    if (!EVP_Digest(token, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32) return CG_EINTERNAL;
    cg_hex_encode(md, md_len, out);
    return 0;
}

/* A new secret into out (TOKEN_LEN + 1 bytes) and its hash. */
static int token_make(char *out, char hash[65], struct cg_err *err)
{
    uint8_t raw[TOKEN_SECRET_BYTES];
    int rc = 0;
    if (RAND_priv_bytes(raw, sizeof(raw)) != 1) {
        rc = cg_err_set(err, CG_EINTERNAL, "cannot make a token: the random generator failed");
    } else {
        memcpy(out, TOKEN_PREFIX, sizeof(TOKEN_PREFIX));
        cg_hex_encode(raw, sizeof(raw), out + sizeof(TOKEN_PREFIX) - 1);
        if (cg_cli_token_hash(out, TOKEN_LEN, hash) < 0)
            rc = cg_err_set(err, CG_EINTERNAL, "cannot make a token: SHA-256 failed");
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

/* --expires DAYS: 1..EXPIRES_MAX_DAYS; *at stays 0 (never) when not given. */
static int expires_parse(const char *name, const char *v, int64_t *at, struct cg_err *err)
{
    *at = 0;
    if (!v) return 0;
    uint64_t days;
    if (cg_str_to_u64(v, &days) < 0 || days < 1 || days > EXPIRES_MAX_DAYS) {
        cg_err_set(err, CG_EUSAGE, "token '%s': --expires '%s' is not a number of days from 1 to %d", name, v,
                   EXPIRES_MAX_DAYS);
        return cg_err_hint(err, "give the days the token stays valid, e.g. --expires 90, or leave --expires out "
                                "for a token that does not expire");
    }
    *at = (int64_t)cg_time_now() + (int64_t)days * SECONDS_PER_DAY;
    return 0;
}

static int role_get(const char *name, const char *v, enum cg_cli_role *role, struct cg_err *err)
{
    if (v && cg_cli_role_parse(v, role) == 0) return 0;
    if (v)
        cg_err_set(err, CG_EUSAGE, "token '%s': unknown role '%s'", name, v);
    else
        cg_err_set(err, CG_EUSAGE, "token '%s': no role given", name);
    return cg_err_hint(err, "give --role viewer (reads), operator (also changes pins, upstreams, sites, profiles, "
                            "rules and webhooks), admin (also certificates and tokens) or events (posts events only)");
}

/* "2026-11-22T14:30:00Z", or JSON null for 0 (never). */
static json_t *time_json(int64_t t)
{
    char buf[32];
    return t ? json_string(cg_time_rfc3339((time_t)t, buf, sizeof(buf))) : json_null();
}

static const char *time_text(int64_t t, const char *zero, char *buf, size_t n)
{
    return t ? cg_time_rfc3339((time_t)t, buf, n) : zero;
}

static bool expired(const struct cg_store_token *t, time_t now) { return t->expires_at && t->expires_at <= now; }

/* The object of list and show (and of the audit trail's before/after): never the hash. */
static json_t *token_json(const struct cg_store_token *t, time_t now)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(t->name));
    json_object_set_new(o, "role", json_string(t->role));
    json_object_set_new(o, "created_at", time_json(t->created_at));
    json_object_set_new(o, "expires_at", time_json(t->expires_at));
    json_object_set_new(o, "last_used_at", time_json(t->last_used_at));
    json_object_set_new(o, "expired", json_boolean(expired(t, now)));
    return o;
}

static const struct cg_cli_opt add_opts[] = {{"role", true, false}, {"expires", true, false}, {NULL, false, false}};

static int added_out(struct cg_cli *cli, const struct cg_store_token *t, const char *secret)
{
    if (cli->json) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(t->name));
        json_object_set_new(o, "role", json_string(t->role));
        json_object_set_new(o, "token", json_string(secret));
        json_object_set_new(o, "expires_at", time_json(t->expires_at));
        return cg_cli_json_out(cli, o);
    }
    /* The token alone on stdout, so that TOKEN=$(certgate token add ...) takes just it. */
    char when[32];
    cg_cli_say(cli, "%s\n", secret);
    cg_cli_warn(cli, "token '%s' (role %s, %s%s) is shown only this once: certgate keeps only its hash, so store it "
                     "now\n",
                t->name, t->role, t->expires_at ? "expires " : "never expires",
                t->expires_at ? cg_time_rfc3339((time_t)t->expires_at, when, sizeof(when)) : "");
    return 0;
}

static int run_add(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    const char *name = a->pos[0];
    CG_GUARD(cg_cli_name_check("token", name, err));
    enum cg_cli_role role;
    CG_GUARD(role_get(name, cg_cli_opt(a, "role"), &role, err));
    struct cg_store_token t = {.name = (char *)name, .role = (char *)cg_cli_role_name(role)};
    CG_GUARD(expires_parse(name, cg_cli_opt(a, "expires"), &t.expires_at, err));
    CG_GUARD(cg_cli_store(cli, false, err));
    char secret[TOKEN_LEN + 1];
    int rc = token_make(secret, t.hash, err);
    if (rc == 0) rc = cg_store_token_put(cli->store, cli->env, &t, err);
    if (rc == 0) rc = added_out(cli, &t, secret);
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

static int run_rm(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    CG_GUARD(cg_store_token_delete(cli->store, cli->env, a->pos[0], err));
    cg_cli_say(cli, "removed token '%s': it no longer opens the admin API\n", a->pos[0]);
    return 0;
}

static int list_table(const struct cg_store_token_list *l, time_t now, struct cg_table *t)
{
    static const char *head[] = {"NAME", "ROLE", "CREATED", "EXPIRES", "LAST USED"};
    cg_table_init(t, CG_ARRAY_LEN(head), head);
    for (size_t i = 0; i < l->n; i++) {
        const struct cg_store_token *k = &l->items[i];
        char created[32], until[32], expires[48], used[32];
        snprintf(expires, sizeof(expires), "%s%s", time_text(k->expires_at, "never", until, sizeof(until)),
                 expired(k, now) ? " (expired)" : "");
        const char *cells[] = {k->name, k->role, time_text(k->created_at, "-", created, sizeof(created)), expires,
                               time_text(k->last_used_at, "never", used, sizeof(used))};
        CG_GUARD(cg_table_row(t, cells));
    }
    return 0;
}

static int run_list(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_UNUSED(a);
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_token_list l = {0};
    CG_GUARD(cg_store_token_list(cli->store, cli->env, &l, err));
    time_t now = cg_time_now();
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < l.n; i++) json_array_append_new(arr, token_json(&l.items[i], now));
    struct cg_table t;
    int rc = list_table(&l, now, &t);
    char empty[160];
    snprintf(empty, sizeof(empty), "no tokens in environment '%s' (make one with: certgate token add NAME --role ROLE)",
             cli->env);
    if (rc == 0) rc = cg_list_print(cli, &arr, &t, empty);
    cg_table_cleanup(&t);
    json_decref(arr);
    cg_store_token_list_cleanup(&l);
    return rc;
}

static int run_show(struct cg_cli *cli, const struct cg_cli_args *a, struct cg_err *err)
{
    CG_GUARD(cg_cli_store(cli, false, err));
    struct cg_store_token t;
    CG_GUARD(cg_store_token_get(cli->store, cli->env, a->pos[0], &t, err));
    time_t now = cg_time_now();
    int rc = 0;
    if (cli->json) {
        rc = cg_cli_json_out(cli, token_json(&t, now));
    } else {
        char buf[32];
        cg_cli_say(cli, "name:       %s\n", t.name);
        cg_cli_say(cli, "role:       %s\n", t.role);
        cg_cli_say(cli, "created:    %s\n", time_text(t.created_at, "-", buf, sizeof(buf)));
        cg_cli_say(cli, "expires:    %s%s\n", time_text(t.expires_at, "never", buf, sizeof(buf)),
                   expired(&t, now) ? " (expired: the admin API refuses it)" : "");
        cg_cli_say(cli, "last used:  %s\n", time_text(t.last_used_at, "never", buf, sizeof(buf)));
    }
    cg_store_token_cleanup(&t);
    return rc;
}

const struct cg_cli_cmd cg_cli_token_cmds[] = {
    {"token", "add", "NAME --role viewer|operator|admin|events [--expires DAYS] [--json]",
     "make an admin API token; it is printed once (certgate keeps only its hash); --expires 1 to 3650 days", 1, 1,
     add_opts, run_add, "token", NULL},
    {"token", "list", "[--json]", "list tokens: role, created, expiry, last use (never the token)", 0, 0, NULL,
     run_list, NULL, NULL},
    {"token", "show", "NAME [--json]", "one token's role, times and whether it expired", 1, 1, NULL, run_show, NULL,
     NULL},
    {"token", "rm", "NAME", "remove a token: the admin API refuses it from then on", 1, 1, NULL, run_rm, "token", NULL},
    {0},
};
