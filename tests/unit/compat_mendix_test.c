/* src/compat/mendix.c: the Mendix client-certificate settings (local and Cloud), with the
 * examples of seeds/003 verbatim. Refusals are first-class: each names the setting and entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "compat/mendix.h"
#include "core/base64.h"
#include "core/mem.h"

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) fail_msg("expected '%s' in '%s'", needle, hay);
}

static void assert_local_empty(const struct cg_mendix_local *m)
{
    assert_int_equal(m->paths.n, 0);
    assert_int_equal(m->passwords.n, 0);
    assert_null(m->usages);
    assert_int_equal(m->n_usages, 0);
}

static int local(const char *certs, const char *pws, const char *usages, struct cg_mendix_local *m,
                 struct cg_err *e)
{
    cg_err_clear(e);
    return cg_mendix_local_parse(certs, pws, usages, m, e);
}

/* Expects a refusal with code and a message holding needle; out must be left empty. */
static void local_refuse(const char *certs, const char *pws, const char *usages, int code,
                         const char *needle)
{
    struct cg_mendix_local m;
    struct cg_err e;
    int rc = local(certs, pws, usages, &m, &e);
    if (rc != code) fail_msg("expected %d, got %d (%s)", code, rc, e.msg);
    assert_int_equal(e.code, code);
    assert_contains(e.msg, needle);
    assert_true(e.hint[0] != '\0');
    assert_local_empty(&m);
    cg_mendix_local_cleanup(&m);
}

/* ---- local settings: accepted ------------------------------------------------------------ */

/* seeds/003: "Backslashes in the paths should not be doubled" in ClientCertificates, "must be
 * doubled" in ClientCertificateUsages; the example is used verbatim. */
static void test_local_seed_example(void **state)
{
    (void)state;
    const char *usages = "{ \"Module.WebService1\": \"D:\\\\App\\\\Mx1.pfx\", "
                         "\"www.server-to-contact.com\": \"D:\\\\App\\\\Mx2.pfx\" }";
    assert_string_equal(usages, "{ \"Module.WebService1\": \"D:\\\\App\\\\Mx1.pfx\", "
                                "\"www.server-to-contact.com\": \"D:\\\\App\\\\Mx2.pfx\" }");
    struct cg_mendix_local m;
    struct cg_err e;
    int rc = local("D:\\App\\Mx1.pfx, D:\\App\\Mx2.pfx", "secret1,secret2", usages, &m, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_int_equal(m.paths.n, 2);
    assert_string_equal(m.paths.items[0], "D:\\App\\Mx1.pfx");
    assert_string_equal(m.paths.items[1], "D:\\App\\Mx2.pfx");
    assert_int_equal(m.passwords.n, 2);
    assert_string_equal(m.passwords.items[0], "secret1");
    assert_string_equal(m.passwords.items[1], "secret2");
    assert_int_equal(m.n_usages, 2);
    assert_string_equal(m.usages[0].target, "Module.WebService1");
    assert_int_equal(m.usages[0].cert, 0);
    assert_string_equal(m.usages[1].target, "www.server-to-contact.com");
    assert_int_equal(m.usages[1].cert, 1);
    cg_mendix_local_cleanup(&m);
    assert_local_empty(&m);
    cg_mendix_local_cleanup(&m); /* twice is fine */
}

/* seeds/003: an empty path pins "no certificate". */
static void test_local_seed_empty_path(void **state)
{
    (void)state;
    const char *usages = "{ \"Module.WebService1\": \"D:\\\\App\\\\Mx1.pfx\", \"Module.WebService2\": \"\" }";
    struct cg_mendix_local m;
    struct cg_err e;
    int rc = local("D:\\App\\Mx1.pfx", "pw", usages, &m, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_int_equal(m.n_usages, 2);
    assert_string_equal(m.usages[0].target, "Module.WebService1");
    assert_int_equal(m.usages[0].cert, 0);
    assert_string_equal(m.usages[1].target, "Module.WebService2");
    assert_int_equal(m.usages[1].cert, -1);
    cg_mendix_local_cleanup(&m);
}

static void test_local_passwords(void **state)
{
    (void)state;
    struct cg_mendix_local m;
    struct cg_err e;
    /* NULL: every file unprotected */
    assert_int_equal(local("a.pfx,b.pfx,c.pfx", NULL, NULL, &m, &e), 0);
    assert_int_equal(m.passwords.n, 3);
    for (size_t i = 0; i < 3; i++) assert_string_equal(m.passwords.items[i], "");
    assert_int_equal(m.n_usages, 0);
    assert_null(m.usages);
    cg_mendix_local_cleanup(&m);
    /* "" for one file is one empty password */
    assert_int_equal(local("a.pfx", "", NULL, &m, &e), 0);
    assert_int_equal(m.passwords.n, 1);
    assert_string_equal(m.passwords.items[0], "");
    cg_mendix_local_cleanup(&m);
    /* empty positions, and passwords kept byte for byte (not trimmed) */
    assert_int_equal(local(" a.pfx , b.pfx,c.pfx ", "p 1,, p3 ", NULL, &m, &e), 0);
    assert_string_equal(m.paths.items[0], "a.pfx");
    assert_string_equal(m.paths.items[2], "c.pfx");
    assert_string_equal(m.passwords.items[0], "p 1");
    assert_string_equal(m.passwords.items[1], "");
    assert_string_equal(m.passwords.items[2], " p3 ");
    cg_mendix_local_cleanup(&m);
    /* usages: an empty object is none */
    assert_int_equal(local("a.pfx", NULL, "{}", &m, &e), 0);
    assert_int_equal(m.n_usages, 0);
    cg_mendix_local_cleanup(&m);
    /* unix paths, several targets on one file, unicode names */
    assert_int_equal(local("/etc/certgate/a.p12", NULL,
                           "{\"A.B\": \"/etc/certgate/a.p12\", \"api.example\": \"/etc/certgate/a.p12\","
                           " \"M\\u00f6dule.WS\": \"\"}", &m, &e), 0);
    assert_int_equal(m.n_usages, 3);
    assert_int_equal(m.usages[1].cert, 0);
    assert_string_equal(m.usages[2].target, "M\xc3\xb6" "dule.WS");
    cg_mendix_local_cleanup(&m);
}

/* ---- local settings: refused ------------------------------------------------------------- */

static void test_local_refuse_certificates(void **state)
{
    (void)state;
    local_refuse(NULL, NULL, NULL, CG_EINVAL, "ClientCertificates: no certificate files given");
    local_refuse("", NULL, NULL, CG_EINVAL, "ClientCertificates: no certificate files given");
    local_refuse("  ", NULL, NULL, CG_EINVAL, "ClientCertificates: entry 1 of 1 is empty");
    local_refuse("a.pfx,,b.pfx", NULL, NULL, CG_EINVAL, "ClientCertificates: entry 2 of 3 is empty");
    local_refuse("a.pfx,", NULL, NULL, CG_EINVAL, "entry 2 of 2 is empty");
    local_refuse("a.pfx, b.pfx ,a.pfx", NULL, NULL, CG_EINVAL,
                 "ClientCertificates: 'a.pfx' is listed twice (entries 1 and 3)");
    /* more than CG_MENDIX_MAX_ENTRIES files */
    char many[(CG_MENDIX_MAX_ENTRIES + 1) * 8];
    size_t n = 0;
    for (int i = 0; i <= CG_MENDIX_MAX_ENTRIES; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "%s%d.p", i ? "," : "", i);
    local_refuse(many, NULL, NULL, CG_ELIMIT, "more than the limit");
}

static void test_local_refuse_passwords(void **state)
{
    (void)state;
    struct cg_mendix_local m;
    struct cg_err e;
    assert_int_equal(local("a.pfx,b.pfx", "hunter2", NULL, &m, &e), CG_EINVAL);
    assert_string_equal(e.msg, "ClientCertificatePasswords has 1 entries but ClientCertificates has 2");
    assert_contains(e.hint, "same order");
    assert_null(strstr(e.msg, "hunter2"));
    assert_null(strstr(e.hint, "hunter2"));
    assert_local_empty(&m);
    local_refuse("a.pfx,b.pfx", "", NULL, CG_EINVAL, "has 1 entries but ClientCertificates has 2");
    local_refuse("a.pfx", "pw,", NULL, CG_EINVAL,
                 "ClientCertificatePasswords has 2 entries but ClientCertificates has 1");
    local_refuse("a.pfx", "p,w,x", NULL, CG_EINVAL, "has 3 entries");
}

static void test_local_refuse_usages(void **state)
{
    (void)state;
    struct cg_mendix_local m;
    struct cg_err e;
    /* the message of mendix.h, and a hint listing the paths */
    assert_int_equal(local("a.pfx", NULL, "{\"Module.WS1\": \"x.pfx\"}", &m, &e), CG_EINVAL);
    assert_string_equal(e.msg, "ClientCertificateUsages: entry 'Module.WS1': path 'x.pfx' is not one of "
                               "ClientCertificates");
    assert_contains(e.hint, "'a.pfx'");
    assert_local_empty(&m);
    /* backslashes not doubled: \A is not a JSON escape */
    assert_int_equal(local("D:\\App\\Mx1.pfx", NULL, "{\"Module.WS1\": \"D:\\App\\Mx1.pfx\"}", &m, &e),
                     CG_EPROTO);
    assert_contains(e.msg, "ClientCertificateUsages: not valid JSON (line 1");
    assert_contains(e.hint, "doubled");
    /* ... and \n, \t are escapes: they decode to control characters that match nothing */
    assert_int_equal(local("D:\\new\\tls.pfx", NULL, "{\"Module.WS1\": \"D:\\new\\tls.pfx\"}", &m, &e),
                     CG_EINVAL);
    assert_contains(e.msg, "entry 'Module.WS1': path 'D:?ew?ls.pfx' is not one of ClientCertificates");
    assert_contains(e.hint, "control character");
    /* backslashes doubled in ClientCertificates too: the paths differ */
    local_refuse("D:\\\\App\\\\Mx1.pfx", NULL, "{\"M.WS\": \"D:\\\\App\\\\Mx1.pfx\"}", CG_EINVAL,
                 "path 'D:\\App\\Mx1.pfx' is not one of ClientCertificates");
    /* differs only in case */
    assert_int_equal(local("D:\\App\\Mx1.pfx", NULL, "{\"M.WS\": \"d:\\\\app\\\\mx1.PFX\"}", &m, &e),
                     CG_EINVAL);
    assert_contains(e.hint, "did you mean 'D:\\App\\Mx1.pfx'");
    /* duplicate targets */
    assert_int_equal(local("a.pfx,b.pfx", NULL, "{\"M.WS\": \"a.pfx\", \"M.WS\": \"b.pfx\"}", &m, &e),
                     CG_EINVAL);
    assert_contains(e.msg, "ClientCertificateUsages: a key is given twice (line 1");
    assert_contains(e.msg, "M.WS");
    assert_local_empty(&m);
    /* targets */
    local_refuse("a.pfx", NULL, "{\"\": \"a.pfx\"}", CG_EINVAL,
                 "ClientCertificateUsages: entry '': the name is empty");
    local_refuse("a.pfx", NULL, "{\" M.WS\": \"a.pfx\"}", CG_EINVAL, "entry ' M.WS': the name holds whitespace");
    local_refuse("a.pfx", NULL, "{\"M\\tWS\": \"a.pfx\"}", CG_EINVAL, "entry 'M?WS'");
    /* wrong types */
    local_refuse("a.pfx", NULL, "{\"M.WS\": 1}", CG_EINVAL,
                 "entry 'M.WS': the path must be a string, not a number");
    local_refuse("a.pfx", NULL, "{\"M.WS\": null}", CG_EINVAL, "not null");
    local_refuse("a.pfx", NULL, "{\"M.WS\": [\"a.pfx\"]}", CG_EINVAL, "not a list");
    local_refuse("a.pfx", NULL, "{\"M.WS\": {}}", CG_EINVAL, "not an object");
    local_refuse("a.pfx", NULL, "[\"a.pfx\"]", CG_EINVAL,
                 "ClientCertificateUsages must be a JSON object, not a list");
    local_refuse("a.pfx", NULL, "\"a.pfx\"", CG_EINVAL, "must be a JSON object, not a string");
    local_refuse("a.pfx", NULL, "", CG_EPROTO, "ClientCertificateUsages: not valid JSON");
    local_refuse("a.pfx", NULL, "{", CG_EPROTO, "not valid JSON");
    local_refuse("a.pfx", NULL, "{\"M.WS\": \"a.pfx\",}", CG_EPROTO, "not valid JSON");
    local_refuse("a.pfx", NULL, "{'M.WS': 'a.pfx'}", CG_EPROTO, "not valid JSON");
    local_refuse("a.pfx", NULL, "{\"M.WS\": \"a\\u0000.pfx\"}", CG_EPROTO, "not valid JSON");
    local_refuse("a.pfx", NULL, "{} {}", CG_EPROTO, "not valid JSON");
    /* the passwords of a refused import are not kept */
    assert_int_equal(local("a.pfx", "pw", "{\"M.WS\": \"b.pfx\"}", &m, &e), CG_EINVAL);
    assert_local_empty(&m);
    /* more than CG_MENDIX_MAX_ENTRIES usages */
    char *big = cg_malloc(32 * (CG_MENDIX_MAX_ENTRIES + 2));
    size_t n = 0;
    big[n++] = '{';
    for (int i = 0; i <= CG_MENDIX_MAX_ENTRIES; i++)
        n += (size_t)snprintf(big + n, 32, "%s\"t%d\": \"\"", i ? "," : "", i);
    big[n++] = '}';
    big[n] = '\0';
    local_refuse("a.pfx", NULL, big, CG_ELIMIT, "more than the limit");
    cg_free(big);
}

/* ---- CLIENT_CERTIFICATES ----------------------------------------------------------------- */

static int env(const char *json, struct cg_mendix_env *m, struct cg_err *e)
{
    cg_err_clear(e);
    return cg_mendix_env_parse(cg_slice_str(json), m, e);
}

static void env_refuse(const char *json, int code, const char *needle)
{
    struct cg_mendix_env m;
    struct cg_err e;
    int rc = env(json, &m, &e);
    if (rc != code) fail_msg("for %s expected %d, got %d (%s)", json, code, rc, e.msg);
    assert_int_equal(e.code, code);
    assert_contains(e.msg, needle);
    assert_true(e.hint[0] != '\0' || code == CG_ELIMIT);
    assert_null(m.certs);
    assert_int_equal(m.n_certs, 0);
    cg_mendix_env_cleanup(&m);
}

static void test_env_accepted(void **state)
{
    (void)state;
    /* "MAMCAQA=" is 30 03 02 01 00 */
    const char *json = "[{\"pfx\": \"MAMCAQA=\", \"password\": \"pw1\", \"pin_to\": [\"Module.WS1\", \"host.example\"]},"
                       " {\"pfx\": \"MAMC\\nAQA=\"},"
                       " {\"pin_to\": [], \"password\": \"\", \"pfx\": \"AQID\"}]";
    struct cg_mendix_env m;
    struct cg_err e;
    int rc = env(json, &m, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_int_equal(m.n_certs, 3);
    static const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    assert_int_equal(m.certs[0].pfx.len, sizeof(der));
    assert_memory_equal(m.certs[0].pfx.ptr, der, sizeof(der));
    assert_string_equal(m.certs[0].password, "pw1");
    assert_int_equal(m.certs[0].pin_to.n, 2);
    assert_string_equal(m.certs[0].pin_to.items[0], "Module.WS1");
    assert_string_equal(m.certs[0].pin_to.items[1], "host.example");
    /* base64 wrapped over lines; no password; no pins */
    assert_memory_equal(m.certs[1].pfx.ptr, der, sizeof(der));
    assert_string_equal(m.certs[1].password, "");
    assert_int_equal(m.certs[1].pin_to.n, 0);
    assert_int_equal(m.certs[2].pfx.len, 3);
    cg_mendix_env_cleanup(&m);
    assert_null(m.certs);
    cg_mendix_env_cleanup(&m);

    assert_int_equal(env("[]", &m, &e), 0);
    assert_int_equal(m.n_certs, 0);
    cg_mendix_env_cleanup(&m);
}

static void test_env_refused(void **state)
{
    (void)state;
    env_refuse("{\"pfx\": \"AQID\"}", CG_EINVAL, "CLIENT_CERTIFICATES must be a JSON list, not an object");
    env_refuse("\"AQID\"", CG_EINVAL, "must be a JSON list, not a string");
    env_refuse("", CG_EPROTO, "CLIENT_CERTIFICATES: not valid JSON");
    env_refuse("[{\"pfx\": \"AQID\"},]", CG_EPROTO, "not valid JSON (line 1");
    env_refuse("[{\"pfx\": \"AQID\"}, 7]", CG_EINVAL, "CLIENT_CERTIFICATES[1] must be an object, not a number");
    env_refuse("[[]]", CG_EINVAL, "CLIENT_CERTIFICATES[0] must be an object, not a list");
    env_refuse("[{}]", CG_EINVAL, "CLIENT_CERTIFICATES[0]: 'pfx' is missing");
    env_refuse("[{\"password\": \"x\"}]", CG_EINVAL, "'pfx' is missing");
    env_refuse("[{\"pfx\": 5}]", CG_EINVAL, "CLIENT_CERTIFICATES[0]: 'pfx' must be a non-empty string, not a number");
    env_refuse("[{\"pfx\": \"\"}]", CG_EINVAL, "'pfx' must be a non-empty string, not an empty one");
    env_refuse("[{\"pfx\": \" \\n \"}]", CG_EINVAL, "'pfx' must be a non-empty string, not an empty one");
    env_refuse("[{\"pfx\": \"AQID\"}, {\"pfx\": \"not base64!\"}]", CG_EPROTO,
               "CLIENT_CERTIFICATES[1]: 'pfx' is not valid base64");
    env_refuse("[{\"pfx\": \"AQI\"}]", CG_EPROTO, "'pfx' is not valid base64");
    env_refuse("[{\"pfx\": \"AQ==AQ==\"}]", CG_EPROTO, "'pfx' is not valid base64");
    env_refuse("[{\"pfx\": \"AQID\", \"password\": 1234}]", CG_EINVAL,
               "CLIENT_CERTIFICATES[0]: 'password' must be a string, not a number");
    env_refuse("[{\"pfx\": \"AQID\", \"password\": null}]", CG_EINVAL, "'password' must be a string, not null");
    env_refuse("[{\"pfx\": \"AQID\", \"pin_to\": \"M.WS\"}]", CG_EINVAL,
               "CLIENT_CERTIFICATES[0]: 'pin_to' must be a list of names, not a string");
    env_refuse("[{\"pfx\": \"AQID\", \"pin_to\": [\"M.WS\", 3]}]", CG_EINVAL, "'pin_to'[1] is not a string");
    env_refuse("[{\"pfx\": \"AQID\", \"pin_to\": [\"\"]}]", CG_EINVAL, "'pin_to'[0] is empty");
    env_refuse("[{\"pfx\": \"AQID\", \"pin_to\": [\"a b\"]}]", CG_EINVAL, "'pin_to'[0] holds whitespace");
    env_refuse("[{\"pfx\": \"AQID\", \"pin_to\": [\"M.WS\", \"M.WS\"]}]", CG_EINVAL,
               "CLIENT_CERTIFICATES[0]: 'pin_to' names 'M.WS' twice");
    env_refuse("[{\"pfx\": \"AQID\", \"pin_to\": [\"M.WS\"]}, {\"pfx\": \"AQID\", \"pin_to\": [\"x\", \"M.WS\"]}]",
               CG_EINVAL, "CLIENT_CERTIFICATES[1]: 'M.WS' is already pinned to CLIENT_CERTIFICATES[0]");
    env_refuse("[{\"pfx\": \"AQID\", \"pin\": [\"M.WS\"]}]", CG_EINVAL, "CLIENT_CERTIFICATES[0]: unknown key 'pin'");
    env_refuse("[{\"pfx\": \"AQID\", \"pfx\": \"AQID\"}]", CG_EINVAL,
               "CLIENT_CERTIFICATES: a key is given twice");

    struct cg_mendix_env m;
    struct cg_err e;
    assert_int_equal(env("[{\"pfx\": \"AQID\", \"pin\": []}]", &m, &e), CG_EINVAL);
    assert_contains(e.hint, "pfx, password, pin_to");
    /* a syntax error never quotes the text near it: it may be a password */
    assert_int_equal(env("[{\"pfx\": \"AQID\", \"password\": \"hunter2", &m, &e), CG_EPROTO);
    assert_null(strstr(e.msg, "hunter2"));
    assert_int_equal(env("[{\"pfx\": \"AQID\", \"password\": \"hunter2\" \"x\"}]", &m, &e), CG_EPROTO);
    assert_null(strstr(e.msg, "hunter2"));
    assert_int_equal(env("[{\"pfx\": \"AQID\", \"password\": \"hunter2\", \"pin_to\": 1}]", &m, &e), CG_EINVAL);
    assert_null(strstr(e.msg, "hunter2"));

    /* caps: entries, and bytes */
    char *big = cg_malloc(16 * (CG_MENDIX_MAX_ENTRIES + 2));
    size_t n = 0;
    big[n++] = '[';
    for (int i = 0; i <= CG_MENDIX_MAX_ENTRIES; i++) n += (size_t)snprintf(big + n, 16, "%s{}", i ? "," : "");
    big[n++] = ']';
    big[n] = '\0';
    env_refuse(big, CG_ELIMIT, "CLIENT_CERTIFICATES: 257 certificates, more than the limit of 256");
    cg_free(big);
    big = cg_malloc(CG_MENDIX_MAX_JSON + 2);
    memset(big, ' ', CG_MENDIX_MAX_JSON + 1);
    big[0] = '[';
    big[CG_MENDIX_MAX_JSON] = ']';
    big[CG_MENDIX_MAX_JSON + 1] = '\0';
    env_refuse(big, CG_ELIMIT, "more than the limit");
    cg_free(big);
}

/* ---- CERTIFICATE_AUTHORITIES ------------------------------------------------------------- */

#define PEM "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"

static void test_authorities(void **state)
{
    (void)state;
    struct cg_buf out;
    struct cg_err e;
    cg_err_clear(&e);
    /* PEM is copied as is, text around it included */
    cg_buf_init(&out, 0);
    assert_int_equal(cg_mendix_authorities_decode(cg_slice_str("# ca\n" PEM PEM), &out, &e), 0);
    assert_string_equal(cg_buf_str(&out), "# ca\n" PEM PEM);
    cg_buf_cleanup(&out);

    /* base64 of PEM, wrapped, with surrounding whitespace */
    struct cg_buf b64;
    cg_buf_init(&b64, 0);
    assert_int_equal(cg_base64_encode(cg_slice_str(PEM), &b64), 0);
    struct cg_buf wrapped;
    cg_buf_init(&wrapped, 0);
    assert_int_equal(cg_buf_append_str(&wrapped, "  \n"), 0);
    for (size_t i = 0; i < b64.len; i += 20) {
        size_t k = b64.len - i < 20 ? b64.len - i : 20;
        assert_int_equal(cg_buf_append(&wrapped, b64.ptr + i, k), 0);
        assert_int_equal(cg_buf_append_str(&wrapped, "\r\n"), 0);
    }
    cg_buf_init(&out, 0);
    assert_int_equal(cg_mendix_authorities_decode(cg_buf_slice(&wrapped), &out, &e), 0);
    assert_string_equal(cg_buf_str(&out), PEM);
    cg_buf_cleanup(&out);
    cg_buf_cleanup(&wrapped);
    cg_buf_cleanup(&b64);
}

static void authorities_refuse(struct cg_slice text, int code, const char *needle)
{
    struct cg_buf out;
    struct cg_err e;
    cg_err_clear(&e);
    cg_buf_init(&out, 0);
    assert_int_equal(cg_buf_append_str(&out, "kept"), 0);
    int rc = cg_mendix_authorities_decode(text, &out, &e);
    if (rc != code) fail_msg("expected %d, got %d (%s)", code, rc, e.msg);
    assert_contains(e.msg, needle);
    assert_string_equal(cg_buf_str(&out), "kept"); /* out as it was */
    cg_buf_cleanup(&out);
}

static void test_authorities_refused(void **state)
{
    (void)state;
    authorities_refuse(cg_slice_str(""), CG_EINVAL, "CERTIFICATE_AUTHORITIES is empty");
    authorities_refuse(cg_slice_str(" \n\t"), CG_EINVAL, "CERTIFICATE_AUTHORITIES is empty");
    authorities_refuse(cg_slice_str("not a certificate"), CG_EPROTO,
                       "CERTIFICATE_AUTHORITIES is neither PEM text nor valid base64");
    /* base64 that is not of PEM: "hello world" */
    authorities_refuse(cg_slice_str("aGVsbG8gd29ybGQ="), CG_EFORMAT, "decodes to 11 bytes that are not PEM");
    /* base64 of DER: a hint to convert */
    struct cg_buf out;
    struct cg_err e;
    cg_buf_init(&out, 0);
    assert_int_equal(cg_mendix_authorities_decode(cg_slice_str("MAMCAQA="), &out, &e), CG_EFORMAT);
    assert_contains(e.msg, "look like DER");
    assert_contains(e.hint, "openssl x509");
    assert_int_equal(out.len, 0);
    cg_buf_cleanup(&out);
    /* over the cap */
    char *big = cg_malloc(CG_MENDIX_MAX_JSON + 1);
    memset(big, 'A', CG_MENDIX_MAX_JSON + 1);
    authorities_refuse(cg_slice_make(big, CG_MENDIX_MAX_JSON + 1), CG_ELIMIT, "more than the limit");
    cg_free(big);
    /* the caller's buffer cap is honoured */
    cg_buf_init(&out, 8);
    assert_int_equal(cg_mendix_authorities_decode(cg_slice_str(PEM), &out, &e), CG_ELIMIT);
    cg_buf_cleanup(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_seed_example),
        cmocka_unit_test(test_local_seed_empty_path),
        cmocka_unit_test(test_local_passwords),
        cmocka_unit_test(test_local_refuse_certificates),
        cmocka_unit_test(test_local_refuse_passwords),
        cmocka_unit_test(test_local_refuse_usages),
        cmocka_unit_test(test_env_accepted),
        cmocka_unit_test(test_env_refused),
        cmocka_unit_test(test_authorities),
        cmocka_unit_test(test_authorities_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
