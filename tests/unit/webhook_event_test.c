/* What a delivery sends (webhook/event.c) and what the dispatcher reads (config/snapshot.c's
 * webhooks): the event body, the request with its headers and signature, derived event ids, the
 * snapshot's webhooks loaded from a real store (URL taken apart, certificates, trust, the secret
 * unsealed), and certgate's own expiry events, stored once each and only when someone listens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "config/snapshot.h"
#include "core/str.h"
#include "teststore.h"
#include "webhook/internal.h"

static const uint8_t master[CG_MASTER_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void assert_has(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) fail_msg("\"%s\" lacks \"%s\"", hay, needle);
}

/* ---- the body and the request ---- */

static void test_event_body(void **state)
{
    (void)state;
    struct cg_store_event e = {.id = "evt_0123456789abcdef0123456789abcdef", .type = "invoice.paid",
                               .data_json = "{\"amount\": 42, \"items\": [1, 2]}", .created_at_ms = 1700000000123};
    struct cg_buf b;
    cg_buf_init(&b, 0);
    struct cg_err err;
    assert_int_equal(wh_event_body(&e, &b, &err), 0);
    assert_string_equal(cg_buf_str(&b), "{\"id\":\"evt_0123456789abcdef0123456789abcdef\",\"type\":\"invoice.paid\","
                                        "\"created_at\":\"2023-11-14T22:13:20Z\",\"data\":{\"amount\": 42, \"items\": [1, 2]}}");
    /* the application's numbers go out as it wrote them: no float rewritten by a parse and a dump */
    cg_buf_reset(&b);
    e.data_json = "{\"price\":1.10,\"ratio\":1e-7}";
    assert_int_equal(wh_event_body(&e, &b, &err), 0);
    assert_true(cg_str_ends_with(cg_buf_str(&b), ",\"data\":{\"price\":1.10,\"ratio\":1e-7}}"));
    e.data_json = "{\"amount\": 42, \"items\": [1, 2]}";
    const char *bad[] = {"[1]", "not json", "", "\"x\"", "{\"a\":1} trailing"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cg_buf_reset(&b);
        e.data_json = (char *)bad[i];
        assert_int_equal(wh_event_body(&e, &b, &err), CG_EPROTO);
        assert_has(err.msg, "is not a JSON object");
    }
    e.data_json = NULL;
    assert_int_equal(wh_event_body(&e, &b, &err), CG_EPROTO);
    cg_buf_cleanup(&b);
}

static void test_request(void **state)
{
    (void)state;
    static const char body[] = "{\"id\":\"evt_00000000000000000000000000000001\"}";
    struct wh_request_info r = {.host = "hooks.example", .port = 8443, .path = "/in/hook/?a=1",
                                .event_id = "evt_00000000000000000000000000000001", .event_type = "invoice.paid",
                                .delivery_id = 77, .attempt = 3, .secret = (const uint8_t *)"s3cr3t", .secret_len = 6,
                                .now_s = 1700000000};
    struct cg_buf b;
    cg_buf_init(&b, 0);
    struct cg_err err;
    assert_int_equal(wh_request_build(&r, cg_slice_str(body), &b, &err), 0);
    const char *s = cg_buf_str(&b);
    static const char start[] = "POST /in/hook/?a=1 HTTP/1.1\r\nHost: hooks.example:8443\r\n";
    assert_true(strncmp(s, start, strlen(start)) == 0);
    assert_has(s, "\r\nContent-Type: application/json\r\n");
    char cl[64];
    snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", strlen(body));
    assert_has(s, cl);
    assert_has(s, "\r\nUser-Agent: certgate/");
    assert_has(s, "\r\nCertgate-Event-Id: evt_00000000000000000000000000000001\r\n");
    assert_has(s, "\r\nCertgate-Event-Type: invoice.paid\r\n");
    assert_has(s, "\r\nCertgate-Delivery-Id: 77\r\nCertgate-Delivery-Attempt: 3\r\n");
    char sig[CG_WEBHOOK_SIGNATURE_MAX], line[160];
    assert_int_equal(cg_webhook_signature(r.secret, r.secret_len, r.now_s, cg_slice_str(body), sig, sizeof(sig)), 0);
    snprintf(line, sizeof(line), "\r\nCertgate-Signature: %s\r\n\r\n%s", sig, body);
    assert_has(s, line); /* the last header, then the body as signed */
    assert_true(cg_str_ends_with(s, body));

    /* unsigned, default port, IPv6 */
    cg_buf_reset(&b);
    r.secret = NULL;
    r.port = 443;
    r.host = "::1";
    assert_int_equal(wh_request_build(&r, cg_slice_str(body), &b, &err), 0);
    assert_has(cg_buf_str(&b), "\r\nHost: [::1]\r\n");
    assert_null(strstr(cg_buf_str(&b), "Signature"));
    cg_buf_reset(&b);
    r.port = 8443;
    assert_int_equal(wh_request_build(&r, cg_slice_str(body), &b, &err), 0);
    assert_has(cg_buf_str(&b), "\r\nHost: [::1]:8443\r\n");

    /* what a store edited by hand could hold must not reach the wire as headers */
    struct wh_request_info bad = r;
    bad.event_type = "a\r\nX-Injected: 1";
    assert_int_equal(wh_request_build(&bad, cg_slice_str(body), &b, &err), CG_EINVAL);
    assert_has(err.msg, "cannot go in a request");
    bad = r;
    bad.event_id = "evt_xyz\r\n";
    assert_int_equal(wh_request_build(&bad, cg_slice_str(body), &b, &err), CG_EINVAL);
    bad = r;
    bad.path = "/a b";
    assert_int_equal(wh_request_build(&bad, cg_slice_str(body), &b, &err), CG_EINVAL);
    cg_buf_cleanup(&b);
}

static void test_event_id_derive(void **state)
{
    (void)state;
    char id[CG_WEBHOOK_EVENT_ID_LEN + 1];
    /* python3 -c 'import hashlib; print(hashlib.sha256(b"production|certificate.expiring|abcdef|7").hexdigest()[:32])' */
    cg_webhook_event_id_derive("production", "certificate.expiring", "abcdef", "7", id);
    assert_string_equal(id, "evt_8a1cd22a43b9e57cc1f588e627856479");
    char other[CG_WEBHOOK_EVENT_ID_LEN + 1];
    cg_webhook_event_id_derive("production", "certificate.expiring", "abcdef", "1", other);
    assert_string_not_equal(id, other);
    cg_webhook_event_id_derive("staging", "certificate.expiring", "abcdef", "7", other);
    assert_string_not_equal(id, other);
}

/* ---- the snapshot's webhooks, from a real store ---- */

static void store_ca(struct cg_store *s, const char *env, const char *name, X509 *x)
{
    struct cg_buf pem;
    cg_buf_init(&pem, 0);
    tp_pem_cert(&pem, x);
    struct cg_store_cert rec = {.name = (char *)name, .kind = CG_STORE_CA, .cert_pem = (char *)cg_buf_str(&pem),
                                .warnings_json = "[]"};
    assert_int_equal(cg_store_new_id(rec.id), 0);
    struct cg_err err;
    if (cg_store_cert_put(s, env, &rec, false, &err)) fail_msg("%s", err.msg);
    cg_buf_cleanup(&pem);
}

static void store_webhook(struct cg_store *s, const char *env, const char *name, const char *url, const char *ca,
                          bool ca_only, const char *secret, char **events, size_t n_events)
{
    struct cg_store_webhook w = {.name = (char *)name, .url = (char *)url, .client_cert = "hookcert", .ca = (char *)ca,
                                 .trust = ca_only ? CG_WEBHOOK_TRUST_CA_ONLY : CG_WEBHOOK_TRUST_SYSTEM_CA,
                                 .events = events, .n_events = n_events};
    assert_int_equal(cg_store_new_id(w.id), 0);
    struct cg_buf blob;
    cg_buf_init(&blob, 0);
    struct cg_err err;
    if (secret) {
        assert_int_equal(cg_pki_secret_seal(master, cg_slice_str(w.id), cg_slice_str(secret), &blob, &err), 0);
        w.secret_blob = blob.ptr;
        w.secret_blob_len = blob.len;
    }
    if (cg_store_webhook_put(s, env, &w, false, &err)) fail_msg("%s", err.msg);
    cg_buf_cleanup(&blob);
}

static void store_base(struct cg_store *s, const char *env)
{
    const struct tp_pki *p = tp_pki_get();
    ts_store_identity(s, env, "hookcert", CG_STORE_CLIENT, p->leaf, p->leaf_key, false, master);
    store_ca(s, env, "hookca", p->root);
}

static void test_snapshot_webhooks(void **state)
{
    (void)state;
    struct cg_store *s = ts_store_open("snapwh");
    store_base(s, "production");
    char *types[] = {"invoice.paid", "certificate.expiring"};
    store_webhook(s, "production", "b-hook", "https://Receiver.Example:8443/in/hook/", NULL, false, "whsec-1", types, 2);
    store_webhook(s, "production", "a-hook", "https://[::1]", "hookca", true, NULL, NULL, 0);
    struct cg_snapshot *snap = NULL;
    struct cg_err err;
    if (cg_snapshot_load(s, "production", master, &snap, &err)) fail_msg("%s", err.msg);
    assert_int_equal(snap->n_webhooks, 2);
    assert_int_equal(cg_snapshot_webhook_find(snap, "a-hook"), 0); /* ordered by name */
    assert_int_equal(cg_snapshot_webhook_find(snap, "b-hook"), 1);
    assert_int_equal(cg_snapshot_webhook_find(snap, "c-hook"), -1);
    const struct cg_snapshot_webhook *a = &snap->webhooks[0], *b = &snap->webhooks[1];
    assert_string_equal(b->host, "receiver.example");
    assert_int_equal(b->port, 8443);
    assert_string_equal(b->path, "/in/hook/"); /* the trailing '/' is the receiver's business */
    assert_string_equal(b->url, "https://Receiver.Example:8443/in/hook/");
    assert_string_equal(snap->certs[b->cert].name, "hookcert");
    assert_int_equal(b->ca, -1);
    assert_false(b->ca_only);
    assert_int_equal(b->secret_len, 7);
    assert_memory_equal(b->secret, "whsec-1", 7);
    assert_int_equal(b->n_events, 2);
    assert_true(strcmp(b->events[0], "invoice.paid") == 0 || strcmp(b->events[1], "invoice.paid") == 0);
    assert_true(strcmp(b->events[0], "certificate.expiring") == 0 || strcmp(b->events[1], "certificate.expiring") == 0);
    assert_string_equal(a->host, "::1");
    assert_int_equal(a->port, 443);
    assert_string_equal(a->path, "/");
    assert_string_equal(snap->certs[a->ca].name, "hookca");
    assert_true(a->ca_only);
    assert_null(a->secret);
    assert_int_equal(a->n_events, 0);

    /* the runtime gives each its own trust */
    struct cg_runtime *rt = NULL;
    if (cg_runtime_new(snap, NULL, &rt, &err)) fail_msg("%s", err.msg);
    assert_int_equal(rt->n_trust, 1 + snap->n_upstreams + 2);
    assert_int_equal(cg_runtime_webhook_trust_id(rt, 1), 2);
    assert_non_null(cg_runtime_client_ctx(rt, b->cert, cg_runtime_webhook_trust_id(rt, 1), &err));
    cg_runtime_unref(rt);
    cg_snapshot_unref(snap);

    /* without the master key (the CLI's checks) the secret stays sealed */
    if (cg_snapshot_load(s, "production", NULL, &snap, &err)) fail_msg("%s", err.msg);
    assert_null(snap->webhooks[1].secret);
    cg_snapshot_unref(snap);

    cg_store_close(s);
}

/* A secret sealed for another record (its id is the AAD) does not open: the load fails, naming the
 * webhook. */
static void test_snapshot_refuses_a_moved_secret(void **state)
{
    (void)state;
    struct cg_store *s = ts_store_open("movedsecret");
    store_base(s, "production");
    struct cg_store_webhook w = {.name = "moved", .url = "https://receiver.example/", .client_cert = "hookcert"};
    assert_int_equal(cg_store_new_id(w.id), 0);
    struct cg_buf blob;
    cg_buf_init(&blob, 0);
    struct cg_err err;
    assert_int_equal(cg_pki_secret_seal(master, cg_slice_str("0123456789abcdef0123456789abcdef"),
                                        cg_slice_str("whsec"), &blob, &err),
                     0);
    w.secret_blob = blob.ptr;
    w.secret_blob_len = blob.len;
    if (cg_store_webhook_put(s, "production", &w, false, &err)) fail_msg("%s", err.msg);
    cg_buf_cleanup(&blob);
    struct cg_snapshot *snap = NULL;
    cg_err_clear(&err);
    assert_int_equal(cg_snapshot_load(s, "production", master, &snap, &err), CG_ESTORE);
    assert_has(err.msg, "webhook 'moved': its secret");
    assert_has(err.hint, "certgate webhook set moved");
    cg_store_close(s);
}

static void test_snapshot_refuses_a_bad_url(void **state)
{
    (void)state;
    struct cg_store *s = ts_store_open("badurl");
    store_base(s, "production");
    store_webhook(s, "production", "plain", "http://receiver.example/hook", NULL, false, NULL, NULL, 0);
    struct cg_snapshot *snap = NULL;
    struct cg_err err;
    cg_err_clear(&err);
    assert_int_equal(cg_snapshot_load(s, "production", master, &snap, &err), CG_ESTORE);
    assert_has(err.msg, "webhook");
    assert_has(err.msg, "http://receiver.example/hook");
    assert_has(err.hint, "certgate webhook set plain");
    cg_store_close(s);
}

/* ---- expiry events ---- */

static size_t expiry(struct cg_store *s, const char *env, time_t now)
{
    struct cg_snapshot *snap = NULL;
    struct cg_err err;
    if (cg_snapshot_load(s, env, master, &snap, &err)) fail_msg("%s", err.msg);
    size_t queued = 99;
    if (cg_webhook_expiry_events(s, env, snap, now, &queued, &err)) fail_msg("%s", err.msg);
    cg_snapshot_unref(snap);
    return queued;
}

static void fingerprint(X509 *x, char out[65])
{
    struct cg_pki_facts f;
    assert_int_equal(cg_pki_facts_get(x, &f), 0);
    memcpy(out, f.fingerprint, 65);
    cg_pki_facts_cleanup(&f);
}

static void test_expiry_events(void **state)
{
    (void)state;
    const struct tp_pki *p = tp_pki_get();
    struct cg_store *s = ts_store_open("expiry");
    store_base(s, "production");
    ts_store_identity(s, "production", "soon", CG_STORE_CLIENT, p->soon, p->leaf_key, false, master);
    ts_store_identity(s, "production", "gone", CG_STORE_CLIENT, p->expired, p->leaf_key, false, master);
    store_webhook(s, "production", "all", "https://receiver.example/", NULL, false, NULL, NULL, 0);
    time_t now = time(NULL);
    /* soon (5 days left: the 7-day threshold) and gone (expired); the others have a year or more */
    assert_int_equal(expiry(s, "production", now), 2);
    assert_int_equal(expiry(s, "production", now), 0); /* once */

    char fp[65], id[CG_WEBHOOK_EVENT_ID_LEN + 1];
    fingerprint(p->soon, fp);
    cg_webhook_event_id_derive("production", "certificate.expiring", fp, "7", id);
    struct cg_store_event e = {0};
    struct cg_err err;
    if (cg_store_event_get(s, "production", id, &e, &err)) fail_msg("%s", err.msg);
    assert_string_equal(e.type, "certificate.expiring");
    assert_has(e.data_json, "\"name\":\"soon\"");
    assert_has(e.data_json, "\"threshold_days\":7");
    assert_has(e.data_json, fp);
    cg_store_event_cleanup(&e);
    fingerprint(p->expired, fp);
    cg_webhook_event_id_derive("production", "certificate.expired", fp, "0", id);
    if (cg_store_event_get(s, "production", id, &e, &err)) fail_msg("%s", err.msg);
    assert_string_equal(e.type, "certificate.expired");
    assert_null(strstr(e.data_json, "threshold_days"));
    cg_store_event_cleanup(&e);

    /* four and a half days on, the 1-day threshold is crossed: one more */
    assert_int_equal(expiry(s, "production", now + 4 * 86400 + 43200), 1);
    assert_int_equal(expiry(s, "production", now + 4 * 86400 + 43200), 0);
    cg_store_close(s);
}

static void test_expiry_events_need_a_listener(void **state)
{
    (void)state;
    const struct tp_pki *p = tp_pki_get();
    struct cg_store *s = ts_store_open("expiry-quiet");
    store_base(s, "production");
    ts_store_identity(s, "production", "soon", CG_STORE_CLIENT, p->soon, p->leaf_key, false, master);
    ts_store_identity(s, "production", "gone", CG_STORE_CLIENT, p->expired, p->leaf_key, false, master);
    char *other[] = {"invoice.paid"};
    store_webhook(s, "production", "billing", "https://receiver.example/", NULL, false, NULL, other, 1);
    assert_int_equal(expiry(s, "production", time(NULL)), 0);
    char fp[65], id[CG_WEBHOOK_EVENT_ID_LEN + 1];
    fingerprint(p->soon, fp);
    cg_webhook_event_id_derive("production", "certificate.expiring", fp, "7", id);
    struct cg_store_event e = {0};
    struct cg_err err;
    assert_int_equal(cg_store_event_get(s, "production", id, &e, &err), CG_ENOTFOUND); /* not stored: not spent */
    /* a webhook for expired ones only: the expired event, not the expiring one */
    char *expired[] = {"certificate.expired"};
    store_webhook(s, "production", "ops", "https://receiver.example/", NULL, false, NULL, expired, 1);
    assert_int_equal(expiry(s, "production", time(NULL)), 1);
    assert_int_equal(cg_store_event_get(s, "production", id, &e, &err), CG_ENOTFOUND);
    cg_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_body),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_event_id_derive),
        cmocka_unit_test(test_snapshot_webhooks),
        cmocka_unit_test(test_snapshot_refuses_a_moved_secret),
        cmocka_unit_test(test_snapshot_refuses_a_bad_url),
        cmocka_unit_test(test_expiry_events),
        cmocka_unit_test(test_expiry_events_need_a_listener),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
