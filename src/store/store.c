/* The backend-neutral half of the store: URL dispatch, record ids, record cleanup.
 * Nothing here knows how a backend keeps its data. */
#include "store/store.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/str.h"
#include "store/backend.h"

/* Every backend, looked up by the scheme of the URL (the text before the first ':'). */
static const struct cg_store_ops *const backends[] = {
    &cg_store_sqlite_ops,
};

static const struct cg_store_ops *backend_find(const char *url)
{
    const char *colon = strchr(url, ':');
    if (!colon) return NULL;
    size_t len = (size_t)(colon - url);
    for (size_t i = 0; i < CG_ARRAY_LEN(backends); i++) {
        const char *scheme = backends[i]->scheme;
        /* Schemes are case-insensitive (RFC 3986 section 3.1). */
        if (strlen(scheme) == len && strncasecmp(url, scheme, len) == 0) return backends[i];
    }
    return NULL;
}

/* "sqlite:, postgres:" for the messages, from the table itself. */
static void schemes_list(char *out, size_t n)
{
    struct cg_buf b;
    cg_buf_init(&b, n > 0 ? n - 1 : 1);
    for (size_t i = 0; i < CG_ARRAY_LEN(backends); i++) {
        if (cg_buf_printf(&b, "%s%s:", i ? ", " : "", backends[i]->scheme) < 0) break;
    }
    cg_strlcpy(out, cg_buf_str(&b), n);
    cg_buf_cleanup(&b);
}

static int backend_lookup(const char *url, const struct cg_store_ops **out, struct cg_err *err)
{
    if (!url || !*url) {
        cg_err_set(err, CG_EUSAGE, "no store given");
        return cg_err_hint_code(err, CG_EUSAGE, "pass --store URL or set CERTGATE_STORE (e.g. %s:/var/lib/certgate/certgate.db)",
                           backends[0]->scheme);
    }
    *out = backend_find(url);
    if (*out) return 0;
    char known[256];
    schemes_list(known, sizeof(known));
    if (!strchr(url, ':')) {
        cg_err_set(err, CG_EUSAGE, "store URL '%s' has no scheme (known schemes: %s)", url, known);
        return cg_err_hint_code(err, CG_EUSAGE, "prefix it with a scheme, e.g. '%s:%s'", backends[0]->scheme, url);
    }
    const char *colon = strchr(url, ':');
    cg_err_set(err, CG_EUSAGE, "store URL '%s' has an unknown scheme '%.*s' (known schemes: %s)", url,
               (int)(colon - url), url, known);
    return cg_err_hint_code(err, CG_EUSAGE, "write the store as SCHEME:..., e.g. '%s:/var/lib/certgate/certgate.db'",
                       backends[0]->scheme);
}

int cg_store_open(const char *url, bool create, struct cg_store **out, struct cg_err *err)
{
    *out = NULL;
    const struct cg_store_ops *ops;
    CG_GUARD(backend_lookup(url, &ops, err));
    return ops->open(url, create, out, err);
}

void cg_store_close(struct cg_store *s)
{
    if (s) s->ops->close(s);
}

int cg_store_default_master_key(const char *url, char *out, size_t n, struct cg_err *err)
{
    const struct cg_store_ops *ops;
    CG_GUARD(backend_lookup(url, &ops, err));
    return ops->default_master_key(url, out, n, err);
}

int cg_store_new_id(char out[33])
{
    uint8_t raw[16];
    size_t got = 0;
    out[0] = '\0';
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return CG_EIO;
        }
        got += (size_t)n;
    }
    cg_hex_encode(raw, sizeof(raw), out);
    return 0;
}

bool cg_store_event_type_valid(const char *type)
{
    size_t n = 0;
    for (; type && type[n]; n++) {
        char c = type[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
        if (n >= CG_STORE_EVENT_TYPE_MAX) return false;
    }
    return n >= 1;
}

void cg_store_cert_cleanup(struct cg_store_cert *c)
{
    if (!c) return;
    cg_free(c->name);
    cg_free(c->cert_pem);
    if (c->key_blob) {
        cg_wipe(c->key_blob, c->key_blob_len);
        cg_free(c->key_blob);
    }
    cg_free(c->warnings_json);
    cg_free(c->crl_pem);
    memset(c, 0, sizeof(*c));
}

void cg_store_cert_list_cleanup(struct cg_store_cert_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) cg_store_cert_cleanup(&l->items[i]);
    cg_free(l->items);
    l->items = NULL;
    l->n = 0;
}

void cg_store_pin_list_cleanup(struct cg_store_pin_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        cg_free(l->items[i].target);
        cg_free(l->items[i].cert_name);
    }
    cg_free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* A list of owned strings. */
static void names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) cg_free(names[i]);
    cg_free(names);
}

void cg_store_upstream_cleanup(struct cg_store_upstream *u)
{
    if (!u) return;
    cg_free(u->name);
    cg_free(u->url);
    cg_free(u->server_name);
    cg_free(u->spki_sha256);
    names_free(u->cas, u->n_cas);
    memset(u, 0, sizeof(*u));
}

void cg_store_upstream_list_cleanup(struct cg_store_upstream_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) cg_store_upstream_cleanup(&l->items[i]);
    cg_free(l->items);
    l->items = NULL;
    l->n = 0;
}

void cg_store_site_cleanup(struct cg_store_site *s)
{
    if (!s) return;
    cg_free(s->name);
    cg_free(s->backend);
    for (size_t i = 0; i < s->n_domains; i++) {
        cg_free(s->domains[i].host);
        cg_free(s->domains[i].cert_name);
    }
    cg_free(s->domains);
    cg_free(s->mtls_domain.host);
    cg_free(s->mtls_domain.cert_name);
    names_free(s->client_cas, s->n_client_cas);
    memset(s, 0, sizeof(*s));
}

void cg_store_site_list_cleanup(struct cg_store_site_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) cg_store_site_cleanup(&l->items[i]);
    cg_free(l->items);
    l->items = NULL;
    l->n = 0;
}

void cg_store_profile_cleanup(struct cg_store_profile *p)
{
    if (!p) return;
    cg_free(p->name);
    names_free(p->allow_ips, p->n_allow_ips);
    names_free(p->deny_ips, p->n_deny_ips);
    for (size_t i = 0; i < p->n_cas; i++) {
        cg_free(p->cas[i].ca);
        names_free(p->cas[i].fingerprints, p->cas[i].n_fingerprints);
    }
    cg_free(p->cas);
    memset(p, 0, sizeof(*p));
}

void cg_store_profile_list_cleanup(struct cg_store_profile_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) cg_store_profile_cleanup(&l->items[i]);
    cg_free(l->items);
    l->items = NULL;
    l->n = 0;
}

void cg_store_rule_list_cleanup(struct cg_store_rule_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        cg_free(l->items[i].site);
        cg_free(l->items[i].path);
        cg_free(l->items[i].profile);
    }
    cg_free(l->items);
    l->items = NULL;
    l->n = 0;
}

void cg_store_token_cleanup(struct cg_store_token *t)
{
    if (!t) return;
    cg_free(t->name);
    cg_free(t->role);
    memset(t, 0, sizeof(*t));
}

void cg_store_token_list_cleanup(struct cg_store_token_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) cg_store_token_cleanup(&l->items[i]);
    cg_free(l->items);
    l->items = NULL;
    l->n = 0;
}

void cg_store_audit_cleanup(struct cg_store_audit *a)
{
    if (!a) return;
    cg_free(a->actor);
    cg_free(a->action);
    cg_free(a->object);
    cg_free(a->before_json);
    cg_free(a->after_json);
    memset(a, 0, sizeof(*a));
}

void cg_store_audit_list_cleanup(struct cg_store_audit_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) cg_store_audit_cleanup(&l->items[i]);
    cg_free(l->items);
    l->items = NULL;
    l->n = 0;
}

void cg_store_webhook_cleanup(struct cg_store_webhook *w)
{
    if (!w) return;
    cg_free(w->name);
    cg_free(w->url);
    cg_free(w->client_cert);
    cg_free(w->ca);
    if (w->secret_blob) {
        cg_wipe(w->secret_blob, w->secret_blob_len);
        cg_free(w->secret_blob);
    }
    names_free(w->events, w->n_events);
    cg_free(w->problem);
    memset(w, 0, sizeof(*w));
}

void cg_store_webhook_list_cleanup(struct cg_store_webhook_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) cg_store_webhook_cleanup(&l->items[i]);
    cg_free(l->items);
    l->items = NULL;
    l->n = 0;
}

void cg_store_event_cleanup(struct cg_store_event *e)
{
    if (!e) return;
    cg_free(e->type);
    cg_free(e->data_json);
    memset(e, 0, sizeof(*e));
}

void cg_store_delivery_cleanup(struct cg_store_delivery *d)
{
    if (!d) return;
    cg_free(d->event_type);
    cg_free(d->webhook);
    for (size_t i = 0; i < d->n_history; i++) cg_free(d->history[i].error);
    cg_free(d->history);
    memset(d, 0, sizeof(*d));
}

void cg_store_delivery_list_cleanup(struct cg_store_delivery_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) cg_store_delivery_cleanup(&l->items[i]);
    cg_free(l->items);
    l->items = NULL;
    l->n = 0;
}
