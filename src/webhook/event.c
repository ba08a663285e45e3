/* What goes on the wire for a delivery (docs/webhooks.md): the event as a JSON body, the POST
 * request with certgate's headers and signature; and certgate's own events about certificates
 * that expire, with ids derived from what they are about so that each is sent once. */
#include "webhook/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "core/str.h"
#include "core/time.h"

#ifndef CG_VERSION
#define CG_VERSION "0.1.0"
#endif

#define DATA_MAX (256 * 1024) /* the event writer's cap; a bigger stored one is refused here too */

/* A JSON string for s, quoted and escaped. */
static int append_string(struct cg_buf *out, const char *s)
{
    json_t *v = json_string(s ? s : "");
    char *text = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    int rc = text ? cg_buf_append_str(out, text) : CG_ENOMEM;
    free(text);
    return rc;
}

/* The data goes out as the application sent it, byte for byte (a parse and a dump would rewrite
 * its numbers and spacing); it is parsed here only to be sure the body stays JSON. */
int wh_event_body(const struct cg_store_event *e, struct cg_buf *out, struct cg_err *err)
{
    size_t n = e->data_json ? strlen(e->data_json) : 0;
    json_error_t je;
    json_t *data = n && n <= DATA_MAX ? json_loadb(e->data_json, n, 0, &je) : NULL;
    bool object = json_is_object(data);
    json_decref(data);
    if (!object)
        return cg_err_set(err, CG_EPROTO, "event '%s': its stored data is not a JSON object of at most %d bytes",
                          e->id, DATA_MAX);
    char when[32];
    cg_time_rfc3339((time_t)(e->created_at_ms / 1000), when, sizeof(when));
    int rc = cg_buf_append_str(out, "{\"id\":");
    if (rc == 0) rc = append_string(out, e->id);
    if (rc == 0) rc = cg_buf_append_str(out, ",\"type\":");
    if (rc == 0) rc = append_string(out, e->type);
    if (rc == 0) rc = cg_buf_printf(out, ",\"created_at\":\"%s\",\"data\":", when);
    if (rc == 0) rc = cg_buf_append(out, e->data_json, n);
    if (rc == 0) rc = cg_buf_append(out, "}", 1);
    return rc == 0 ? 0 : cg_err_set(err, rc, "cannot write the body of event '%s'", e->id);
}

/* ---- the request ---- */

/* "evt_" and hex, as the store keeps them */
static bool event_id_safe(const char *id)
{
    size_t n = strlen(id);
    if (n <= 4 || n > CG_WEBHOOK_EVENT_ID_LEN || strncmp(id, "evt_", 4) != 0) return false;
    for (size_t i = 4; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return false;
    return true;
}

/* RFC 3986 characters only: nothing that could end the request line */
static bool path_safe(const char *p)
{
    if (p[0] != '/') return false;
    for (; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) return false;
    return true;
}

int wh_request_build(const struct wh_request_info *r, struct cg_slice body, struct cg_buf *out, struct cg_err *err)
{
    if (!event_id_safe(r->event_id) || !cg_store_event_type_valid(r->event_type) || !path_safe(r->path))
        return cg_err_set(err, CG_EINVAL, "event '%.64s' of type '%.128s' cannot be sent to path '%.256s': a "
                                          "character there cannot go in a request",
                          r->event_id, r->event_type, r->path);
    bool v6 = strchr(r->host, ':') != NULL;
    char host[300];
    if (r->port == 443)
        snprintf(host, sizeof(host), v6 ? "[%s]" : "%s", r->host);
    else
        snprintf(host, sizeof(host), v6 ? "[%s]:%u" : "%s:%u", r->host, r->port);
    int rc = cg_buf_printf(out,
                           "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: certgate/" CG_VERSION "\r\n"
                           "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                           "Certgate-Event-Id: %s\r\nCertgate-Event-Type: %s\r\n"
                           "Certgate-Delivery-Id: %" PRId64 "\r\nCertgate-Delivery-Attempt: %d\r\n",
                           r->path, host, body.len, r->event_id, r->event_type, r->delivery_id, r->attempt);
    if (rc == 0 && r->secret) {
        char sig[CG_WEBHOOK_SIGNATURE_MAX];
        rc = cg_webhook_signature(r->secret, r->secret_len, r->now_s, body, sig, sizeof(sig));
        if (rc == 0) rc = cg_buf_printf(out, "Certgate-Signature: %s\r\n", sig);
    }
    if (rc == 0) rc = cg_buf_append(out, "\r\n", 2);
    if (rc == 0) rc = cg_buf_append(out, body.ptr, body.len);
    if (rc < 0) return cg_err_set(err, rc, "cannot build the request for event '%s'", r->event_id);
    return 0;
}

/* ---- certgate's own events: certificates that expire ---- */

void cg_webhook_event_id_derive(const char *env, const char *type, const char *subject, const char *threshold,
                                char *out)
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    const char *parts[] = {env, type, subject, threshold};
    bool ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < CG_ARRAY_LEN(parts); i++)
        ok = (i == 0 || EVP_DigestUpdate(c, "|", 1) == 1) && EVP_DigestUpdate(c, parts[i], strlen(parts[i])) == 1;
    ok = ok && EVP_DigestFinal_ex(c, md, NULL) == 1;
    EVP_MD_CTX_free(c);
    if (!ok) SHA256((const uint8_t *)"", 0, md); /* cannot fail in practice; never leave out unset */
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    cg_hex_encode(md, sizeof(md), hex);
    snprintf(out, CG_WEBHOOK_EVENT_ID_LEN + 1, "evt_%.32s", hex);
}

/* Whether an enabled webhook of snap receives events of type. */
static bool someone_listens(const struct cg_snapshot *snap, const char *type)
{
    for (size_t i = 0; i < snap->n_webhooks; i++) {
        const struct cg_snapshot_webhook *w = &snap->webhooks[i];
        if (w->disabled) continue;
        if (w->n_events == 0) return true;
        for (size_t k = 0; k < w->n_events; k++)
            if (strcmp(w->events[k], type) == 0) return true;
    }
    return false;
}

/* The threshold crossed (30, 7, 1 days; 0 when expired), or -1 when none is. */
static int threshold_of(time_t not_after, time_t now)
{
    if (not_after <= now) return 0;
    static const int days[] = {1, 7, 30};
    for (size_t i = 0; i < CG_ARRAY_LEN(days); i++)
        if (not_after - now <= (time_t)days[i] * 86400) return days[i];
    return -1;
}

struct expiring {
    const char *env;
    const struct cg_snapshot *snap;
    const struct cg_snapshot_cert *cert;
    X509 *x;
    time_t now;
};

static json_t *expiry_data(const struct expiring *ex, const struct cg_pki_facts *f, int threshold)
{
    char when[32];
    cg_time_rfc3339(f->not_after, when, sizeof(when));
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(ex->cert->name));
    json_object_set_new(o, "kind", json_string(cg_cert_kind_name(ex->cert->kind)));
    json_object_set_new(o, "subject", json_string(f->subject));
    json_object_set_new(o, "fingerprint_sha256", json_string(f->fingerprint));
    json_object_set_new(o, "not_after", json_string(when));
    json_object_set_new(o, "days_left", json_integer(cg_time_days_until(f->not_after, ex->now)));
    if (threshold > 0) json_object_set_new(o, "threshold_days", json_integer(threshold));
    return o;
}

static int expiry_event(struct cg_store *s, const struct expiring *ex, size_t *queued, struct cg_err *err)
{
    struct cg_pki_facts f;
    CG_GUARD(cg_pki_facts_get(ex->x, &f));
    int t = threshold_of(f.not_after, ex->now);
    const char *type = t == 0 ? "certificate.expired" : "certificate.expiring";
    int rc = 0;
    if (t >= 0 && someone_listens(ex->snap, type)) {
        char threshold[16];
        snprintf(threshold, sizeof(threshold), "%d", t);
        json_t *o = expiry_data(ex, &f, t);
        struct cg_store_event e = {.type = (char *)type, .data_json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)};
        json_decref(o);
        cg_webhook_event_id_derive(ex->env, type, f.fingerprint, threshold, e.id);
        size_t n = 0;
        rc = e.data_json ? cg_store_event_put(s, ex->env, &e, &n, err) : CG_ENOMEM;
        free(e.data_json);
        if (rc == CG_EEXISTS) rc = 0; /* sent before: once is the point */
        else if (rc == 0) *queued += n;
    }
    cg_pki_facts_cleanup(&f);
    return rc;
}

int cg_webhook_expiry_events(struct cg_store *s, const char *env, const struct cg_snapshot *snap, time_t now,
                             size_t *queued, struct cg_err *err)
{
    *queued = 0;
    if (!someone_listens(snap, "certificate.expiring") && !someone_listens(snap, "certificate.expired")) return 0;
    for (size_t i = 0; i < snap->n_certs; i++) {
        const struct cg_snapshot_cert *c = &snap->certs[i];
        int n = c->kind == CG_CERT_CA ? sk_X509_num(c->certs) : 1;
        for (int k = 0; k < n; k++) {
            struct expiring ex = {env, snap, c, c->kind == CG_CERT_CA ? sk_X509_value(c->certs, k) : c->leaf, now};
            if (ex.x) CG_GUARD(expiry_event(s, &ex, queued, err));
        }
    }
    return 0;
}
