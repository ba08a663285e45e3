/* The egress session: the proxy engine (proxy/proxy.h) with the egress' routing -- absolute-form
 * targets, upstreams named in Host, the default upstream, CONNECT --, the client certificate the
 * pins select, TLS to the destination, and answers that name the cause of a failure. */
#include "egress/egress.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config/pins.h"
#include "core/str.h"
#include "net/dial.h"

void cg_egress_config_defaults(struct cg_egress_config *c)
{
    memset(c, 0, sizeof(*c));
    cg_proxy_config_defaults(&c->proxy);
}

struct egress {
    struct cg_proxy p; /* first */
    const struct cg_egress_config *cfg;
    int cert;          /* index into the runtime's certificates, or CG_PIN_NONE */
    int upstream;      /* index, or -1 */
    const char *server_name;

    /* what the last request's destination resolved to: consecutive requests of a connection
     * mostly go to the same place, and this spares the formatting and the pool lookup */
    struct {
        uint64_t gen;
        int upstream, cert;
        size_t trust;
        uint16_t port;
        char host[256];
        char host_value[300];  /* the Host field sent upstream */
        char dest[320];        /* host:port for logs and errors */
        struct cg_pool_entry *entry;
    } dest_cache;
};

static const struct cg_snapshot_cert *presented(const struct egress *s)
{
    return s->p.rt && s->cert >= 0 ? &s->p.rt->snap->certs[s->cert] : NULL;
}

/* ---- access log and error bodies ---- */

static void log_fill(struct cg_proxy *p, struct cg_access_entry *e)
{
    struct egress *s = (struct egress *)p;
    const struct cg_snapshot_cert *c = presented(s);
    e->cert = c ? c->name : NULL;
    e->fingerprint = c ? c->fingerprint : NULL;
    if (p->up && p->up->conn.ssl) {
        e->tls_version = SSL_get_version(p->up->conn.ssl);
        e->resumed = p->up->resumed;
    }
}

static void error_fields(struct cg_proxy *p, json_t *o)
{
    const struct cg_snapshot_cert *c = presented((struct egress *)p);
    json_object_set_new(o, "destination", p->rq->dest[0] ? json_string(p->rq->dest) : json_null());
    json_object_set_new(o, "certificate", c ? json_string(c->name) : json_null());
}

/* The TLS failure of a dial, or of the first read after a TLS 1.3 handshake (where the server's
 * verdict on our certificate arrives), as an answer that names the cause and the fix. */
static void fail_tls(struct egress *s, const struct cg_tls_error *t)
{
    struct cg_proxy *p = &s->p;
    const struct cg_snapshot_cert *c = presented(s);
    char hint[512];
    switch (t->kind) {
    case CG_TLS_VERIFY_FAILED: {
        long v = t->verify_result;
        const char *why = X509_verify_cert_error_string(v);
        if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
            snprintf(hint, sizeof(hint),
                     "the certificate is not for '%s': check the host, or set the name to verify with "
                     "certgate upstream set NAME --server-name NAME",
                     s->server_name);
        else if (v == X509_V_ERR_CERT_HAS_EXPIRED || v == X509_V_ERR_CERT_NOT_YET_VALID)
            snprintf(hint, sizeof(hint), "the server's certificate is outside its validity period: tell its operator");
        else
            snprintf(hint, sizeof(hint),
                     "if this server's certificate comes from a private CA, add that CA: certgate ca add NAME ca.pem");
        cg_proxy_fail(p, 502, "upstream_certificate_invalid", hint, "the certificate of %s failed verification: %s",
                      p->rq->dest, why);
        return;
    }
    case CG_TLS_CERT_REQUIRED:
        snprintf(hint, sizeof(hint), "pin a client certificate for it: certgate pin set %s CERT", p->rq->host);
        cg_proxy_fail(p, 502, "client_certificate_required", hint,
                      "%s requires a client certificate and none is pinned for this destination (alert: %s)", p->rq->dest,
                      cg_tls_alert_name(t->alert));
        return;
    case CG_TLS_CERT_REJECTED:
        snprintf(hint, sizeof(hint),
                 "check that %s trusts the issuer of '%s' and that it is still valid, or pin another certificate: "
                 "certgate pin set %s CERT",
                 p->rq->host, c ? c->name : "?", p->rq->host);
        cg_proxy_fail(p, 502, "client_certificate_rejected", hint, "%s rejected the client certificate '%s' (alert: %s)",
                      p->rq->dest, c ? c->name : "?", cg_tls_alert_name(t->alert));
        return;
    default:
        cg_proxy_fail(p, 502, "tls_handshake_failed", NULL, "TLS with %s failed: %s%s%s", p->rq->dest,
                      t->detail[0] ? t->detail : "the connection closed", t->alert >= 0 ? "; alert: " : "",
                      t->alert >= 0 ? cg_tls_alert_name(t->alert) : "");
        return;
    }
}

static void dial_failed(struct cg_proxy *p, const struct cg_dial_error *err)
{
    struct egress *s = (struct egress *)p;
    switch (err->kind) {
    case CG_DIAL_DNS:
        cg_proxy_fail(p, 502, "dns_failure", "check the host name, and that this machine's resolver knows it", "%s",
                      err->message);
        break;
    case CG_DIAL_REFUSED:
        cg_proxy_fail(p, 502, "connect_refused", "check the port, and that the server is running", "%s", err->message);
        break;
    case CG_DIAL_TIMEOUT:
        cg_proxy_fail(p, 504, "connect_timeout", "check that the server is reachable from this machine (firewall, route)",
                      "%s", err->message);
        break;
    case CG_DIAL_TLS: fail_tls(s, &err->tls); break;
    case CG_DIAL_SPKI:
        cg_proxy_fail(p, 502, "upstream_key_mismatch",
                      "if the server's key changed on purpose, update the pin: certgate upstream set NAME --spki-sha256 B64",
                      "%s", err->message);
        break;
    default: cg_proxy_fail(p, 502, "connect_failed", NULL, "%s", err->message); break;
    }
}

/* The connection failed before any answer: the server's TLS verdict when it sent one (in TLS 1.3
 * its view of our certificate arrives only now), or that it closed. */
static void upstream_failed(struct cg_proxy *p, const char *when)
{
    struct egress *s = (struct egress *)p;
    struct cg_conn *c = &p->up->conn;
    struct cg_tls_error t = p->up->tls;
    if (c->ssl) {
        cg_tls_classify(c->ssl, c->ssl_error, s->cert >= 0, &t);
        if (t.alert >= 0 || t.kind != CG_TLS_PROTOCOL) {
            fail_tls(s, &t);
            return;
        }
    }
    if (c->sys_errno)
        cg_proxy_fail(p, 502, "upstream_closed", NULL, "%s closed the connection %s (%s)", p->rq->dest, when,
                      strerror(c->sys_errno));
    else
        cg_proxy_fail(p, 502, "upstream_closed", NULL, "%s closed the connection %s", p->rq->dest, when);
}

/* ---- routing a request ---- */

/* Fills p->rq->dest (for logs and errors), the Host value and the pool entry of the destination just
 * routed, from the session's cache when it is the same as the last one. False when out of memory. */
static bool destination(struct egress *s, size_t trust)
{
    struct cg_proxy *p = &s->p;
    bool v6 = strchr(p->rq->host, ':') != NULL;
    if (s->dest_cache.entry && s->dest_cache.gen == p->w->gen && s->dest_cache.upstream == s->upstream &&
        s->dest_cache.cert == s->cert && s->dest_cache.trust == trust && s->dest_cache.port == p->port &&
        strcmp(s->dest_cache.host, p->rq->host) == 0) {
        cg_strlcpy(p->rq->dest, s->dest_cache.dest, sizeof(p->rq->dest)); /* same place as last time */
        return true;
    }
    snprintf(p->rq->dest, sizeof(p->rq->dest), v6 ? "[%s]:%u" : "%s:%u", p->rq->host, p->port);
    if (p->port == 443)
        snprintf(s->dest_cache.host_value, sizeof(s->dest_cache.host_value), v6 ? "[%s]" : "%s", p->rq->host);
    else
        snprintf(s->dest_cache.host_value, sizeof(s->dest_cache.host_value), "%s", p->rq->dest);
    const struct cg_snapshot_upstream *up = s->upstream >= 0 ? &p->rt->snap->upstreams[s->upstream] : NULL;
    char key[700];
    snprintf(key, sizeof(key), "%s%s|%u|%s|%d|%zu|%d", p->w->pool_prefix, p->rq->host, p->port, s->server_name, s->cert,
             trust, up && up->has_spki ? s->upstream : -1);
    s->dest_cache.entry = cg_pool_entry_get(p->w->pool, key);
    s->dest_cache.gen = p->w->gen;
    s->dest_cache.upstream = s->upstream;
    s->dest_cache.cert = s->cert;
    s->dest_cache.trust = trust;
    s->dest_cache.port = p->port;
    cg_strlcpy(s->dest_cache.host, p->rq->host, sizeof(s->dest_cache.host));
    cg_strlcpy(s->dest_cache.dest, p->rq->dest, sizeof(s->dest_cache.dest));
    return s->dest_cache.entry != NULL;
}

static bool host_names_upstream(struct egress *s, struct cg_slice host, int *idx)
{
    /* Host may carry a port: "partner-api:80" still names "partner-api" */
    const uint8_t *colon = host.len && host.ptr[0] != '[' ? memchr(host.ptr, ':', host.len) : NULL;
    if (colon) host.len = (size_t)(colon - host.ptr);
    *idx = cg_snapshot_upstream_find(s->p.rt->snap, host);
    return *idx >= 0;
}

static bool is_service_header(struct cg_slice name)
{
    return cg_slice_case_eq(name, cg_slice_str(CG_EGRESS_SERVICE_HEADER));
}

/* CONNECT: a blind tunnel, unless the destination would get a client certificate. */
static void route_connect(struct egress *s, const struct cg_pin_match *m)
{
    struct cg_proxy *p = &s->p;
    if (!s->cfg->allow_connect) {
        cg_proxy_fail(p, 403, "connect_disabled",
                      "send absolute-form requests (http://host/path) and let certgate do the TLS; "
                      "or enable tunnels with egress.allow_connect: true",
                      "CONNECT tunnels are disabled on this listener");
        return;
    }
    if (m->cert >= 0) {
        char hint[256];
        snprintf(hint, sizeof(hint),
                 "send http://%s/... through certgate instead of https://, so that it can present the certificate",
                 p->rq->dest);
        cg_proxy_fail(p, 403, "connect_would_skip_certificate", hint,
                      "%s gets the client certificate '%s' (%s), which a blind tunnel cannot present", p->rq->dest,
                      p->rt->snap->certs[m->cert].name, cg_pin_rule_name(m->rule));
        return;
    }
    p->tunnel_after_connect = true;
    struct cg_dial_params dp = {.entry = cg_pool_entry_get(p->w->pool, "tunnel"), .host = p->rq->host, .port = p->port,
                                .timeout_ms = s->cfg->proxy.connect_timeout_ms};
    cg_proxy_connect(p, &dp);
}

static void request(struct cg_proxy *p, const struct cg_http_request *req)
{
    struct egress *s = (struct egress *)p;
    const struct cg_snapshot *snap = p->rt->snap;
    s->cert = CG_PIN_NONE;
    s->upstream = -1;
    const char *why = NULL;
    struct cg_http_uri uri;
    char path_buf[8192 + 512];
    struct cg_slice path = req->target;
    bool is_connect = req->target_form == CG_HTTP_TARGET_AUTHORITY;

    if (req->target_form == CG_HTTP_TARGET_ABSOLUTE || is_connect) {
        if (cg_http_uri_parse(req->target, is_connect, &uri, &why) < 0) {
            cg_proxy_fail(p, 400, "bad_target", NULL, "the request target '%s' is not valid: %s", p->rq->target, why);
            return;
        }
        cg_proxy_copy(p->rq->host, sizeof(p->rq->host), uri.host);
        p->port = uri.port ? uri.port : 443;
        path = uri.path;
        int idx;
        if (!is_connect && !uri.ipv6 && host_names_upstream(s, uri.host, &idx)) s->upstream = idx;
    } else if (req->target_form == CG_HTTP_TARGET_ORIGIN) {
        int idx = -1;
        if (req->host.len && host_names_upstream(s, req->host, &idx)) {
            s->upstream = idx;
        } else if (s->cfg->default_upstream &&
                   (idx = cg_snapshot_upstream_find(snap, cg_slice_str(s->cfg->default_upstream))) >= 0) {
            s->upstream = idx;
        } else {
            cg_proxy_fail(p, 400, "unknown_destination",
                          "send absolute-form requests (set http_proxy=http://THIS-LISTENER and use http:// URLs), or "
                          "name an upstream in Host: certgate upstream add NAME https://host",
                          "Host '%.*s' names no upstream, and the request is not in absolute form (http://host/path)",
                          (int)(req->host.len > 200 ? 200 : req->host.len), (const char *)req->host.ptr);
            return;
        }
    } else {
        cg_proxy_fail(p, 400, "bad_target", NULL, "the request target '%s' cannot be proxied", p->rq->target);
        return;
    }
    const struct cg_snapshot_upstream *up = s->upstream >= 0 ? &snap->upstreams[s->upstream] : NULL;
    if (up) {
        cg_strlcpy(p->rq->host, up->host, sizeof(p->rq->host));
        p->port = up->port;
        if (up->base_path[0]) {
            snprintf(path_buf, sizeof(path_buf), "%s%.*s", up->base_path, (int)path.len, (const char *)path.ptr);
            path = cg_slice_str(path_buf);
        }
        p->response_timeout_ms = up->timeout_ms;
    }
    s->server_name = up ? up->server_name : p->rq->host;

    /* the certificate: pins by service, host:port, host, wildcard; else the default */
    const struct cg_http_header *svc = cg_http_header_find(req->headers, req->n_headers, CG_EGRESS_SERVICE_HEADER);
    struct cg_pin_match m;
    cg_pin_resolve(snap->pins, cg_slice_str(p->rq->host), p->port, svc ? svc->value : cg_slice_make(NULL, 0), &m);
    s->cert = m.cert;
    size_t trust = cg_runtime_trust_id(p->rt, s->upstream);
    if (!destination(s, trust)) {
        cg_proxy_fail(p, 502, "internal", NULL, "out of memory");
        return;
    }
    if (is_connect) {
        route_connect(s, &m);
        return;
    }
    struct cg_err err;
    cg_err_clear(&err);
    SSL_CTX *ctx = cg_runtime_client_ctx(p->rt, s->cert, trust, &err);
    if (!ctx) {
        cg_proxy_fail(p, 502, "internal", NULL, "%s", err.msg);
        return;
    }
    if (cg_proxy_head_begin(p, req, path, s->dest_cache.host_value, is_service_header) < 0 ||
        cg_proxy_head_end(p) < 0) {
        cg_proxy_fail(p, 502, "internal", NULL, "cannot build the upstream request");
        return;
    }
    struct cg_dial_params dp = {
        .entry = s->dest_cache.entry,
        .host = p->rq->host,
        .port = p->port,
        .server_name = s->server_name,
        .ctx = ctx,
        .presenting = s->cert >= 0,
        .spki = up && up->has_spki ? up->spki_sha256 : NULL,
        .timeout_ms = up && up->connect_timeout_ms ? up->connect_timeout_ms : s->cfg->proxy.connect_timeout_ms,
    };
    cg_proxy_connect(p, &dp);
}

static const struct cg_proxy_ops egress_ops = {
    .listener = "egress",
    .kind = CG_LISTENER_EGRESS,
    .size = sizeof(struct egress),
    .request = request,
    .dial_failed = dial_failed,
    .upstream_failed = upstream_failed,
    .log_fill = log_fill,
    .error_fields = error_fields,
    .timeout_hint = "raise the upstream's --timeout if the server is slow by design",
};

void cg_egress_accept(struct cg_worker *w, int fd, void *arg)
{
    const struct cg_egress_config *cfg = arg;
    struct cg_proxy *p = cg_proxy_new(w, fd, &egress_ops, &cfg->proxy);
    if (!p) return;
    struct egress *s = (struct egress *)p;
    s->cfg = cfg;
    s->cert = CG_PIN_NONE;
    s->upstream = -1;
    cg_proxy_start(p);
}
