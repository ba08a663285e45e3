/* The access decision (SPEC.md section 1) over a snapshot built by hand: longest prefix,
 * inheritance, no rules, presets, denied ranges over everything, allowed ranges without a
 * certificate, a selected intermediate against the other branch of the same root, IPv6 and
 * IPv4-mapped clients; and the path normalisation rules are matched against, with the shapes
 * used to slip past prefix rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "config/site.h"
#include "config/snapshot.h"
#include "testpki.h"

/* ---- path normalisation ---- */

static void norm_ok(const char *in, size_t in_len, const char *want)
{
    char out[256];
    size_t n = 99;
    const char *why = NULL;
    int rc = cg_site_path_normalize(cg_slice_make(in, in_len), out, sizeof(out), &n, &why);
    if (rc != 0) fail_msg("'%s' refused (%d): %s", in, rc, why);
    if (strcmp(out, want) != 0) fail_msg("'%s' -> '%s', expected '%s'", in, out, want);
    assert_int_equal(n, strlen(want));
}

static void norm_bad(const char *in, size_t in_len, int code, const char *phrase)
{
    char out[256];
    size_t n = 99;
    const char *why = NULL;
    int rc = cg_site_path_normalize(cg_slice_make(in, in_len), out, sizeof(out), &n, &why);
    if (rc != code) fail_msg("'%s': rc %d, expected %d (out '%s')", in, rc, code, rc == 0 ? out : "");
    assert_non_null(why);
    if (!strstr(why, phrase)) fail_msg("'%s': '%s' lacks '%s'", in, why, phrase);
    assert_int_equal(n, 0);
    assert_string_equal(out, ""); /* nothing half-decoded is left behind */
}

#define OK(in, want) norm_ok(in, sizeof(in) - 1, want)
#define BAD(in, code, phrase) norm_bad(in, sizeof(in) - 1, code, phrase)

static void test_normalize_plain(void **state)
{
    (void)state;
    OK("/", "/");
    OK("/a/b", "/a/b");
    OK("/a/b/", "/a/b/"); /* a trailing '/' is kept: "/api/" rules cover the subtree only */
    OK("/.hidden/..x/...", "/.hidden/..x/..."); /* only "." and ".." are dot segments */
    OK("/caf%C3%A9", "/caf\xc3\xa9");
    OK("/a%20b", "/a b");
    OK("/%252e%252e/", "/%2e%2e/"); /* decoded once, as the backend decodes once */
}

static void test_normalize_bypass_shapes(void **state)
{
    (void)state;
    OK("//admin", "/admin");
    OK("/a//b///c", "/a/b/c");
    OK("///", "/");
    OK("/./admin", "/admin");
    OK("/a/./b/.", "/a/b/");
    OK("/a/../admin", "/admin");
    OK("/a/b/../../admin/", "/admin/");
    OK("/a/..", "/");
    OK("/a/b/..", "/a/");
    OK("/%61dmin", "/admin");
    OK("/%41DMIN", "/ADMIN"); /* paths are case-sensitive (RFC 3986 section 6.2.2.1) */
    OK("/a/%2e%2e/admin", "/admin");
    OK("/a/%2E%2e/admin", "/admin");
    OK("/a/.%2e/admin", "/admin");
    OK("/a%2fb", "/a/b");
    OK("/a%2F..%2Fadmin", "/admin");
    OK("/public/..;/admin", "/admin");         /* Tomcat and Spring read "..;" as ".." */
    OK("/public/.;x/admin", "/public/admin");
    OK("/admin;jsessionid=1/x", "/admin/x");   /* ... and drop ";params" from segments */
    OK("/admin;x", "/admin");
    OK("/;x/admin", "/admin");
    OK("/a/%3b/b", "/a/b");                   /* a decoded ';' is a ';' */
}

static void test_normalize_refusals(void **state)
{
    (void)state;
    BAD("/..", CG_EINVAL, "above the root");
    BAD("/a/../..", CG_EINVAL, "above the root");
    BAD("/../admin", CG_EINVAL, "above the root");
    BAD("/%2e%2e/admin", CG_EINVAL, "above the root");
    BAD("/..;/admin", CG_EINVAL, "above the root");
    BAD("/%", CG_EINVAL, "percent-encoding");
    BAD("/%2", CG_EINVAL, "percent-encoding");
    BAD("/%zz", CG_EINVAL, "percent-encoding");
    BAD("/%g0", CG_EINVAL, "percent-encoding");
    BAD("/a%", CG_EINVAL, "percent-encoding");
    BAD("/%00", CG_EINVAL, "NUL");
    BAD("/a\0b", CG_EINVAL, "NUL");
    BAD("", CG_EINVAL, "start with '/'");
    BAD("admin", CG_EINVAL, "start with '/'");
    BAD("*", CG_EINVAL, "start with '/'");

    /* the output cap: the decoded path and a NUL must fit */
    char out[8];
    size_t n;
    const char *why = NULL;
    assert_int_equal(cg_site_path_normalize(cg_slice_str("/abcdef"), out, 8, &n, &why), 0);
    assert_string_equal(out, "/abcdef");
    assert_int_equal(cg_site_path_normalize(cg_slice_str("/abcdefg"), out, 8, &n, &why), CG_ELIMIT);
    assert_non_null(strstr(why, "too long"));
    assert_int_equal(cg_site_path_normalize(cg_slice_str("/%61bcdefg"), out, 8, &n, &why), CG_ELIMIT);
    assert_int_equal(cg_site_path_normalize(cg_slice_str("/"), out, 0, &n, &why), CG_ELIMIT);
    assert_int_equal(cg_site_path_normalize(cg_slice_str("/%61b"), out, 4, &n, &why), 0);
    assert_string_equal(out, "/ab");
    assert_int_equal(cg_site_path_normalize(cg_slice_str("/ab"), out, 8, &n, NULL), 0); /* why may be NULL */
}

/* ---- the decision ---- */

struct fixture {
    X509 *int_b, *leaf_b;          /* the other branch of the test root */
    EVP_PKEY *key_b;
    STACK_OF(X509) *chain_a;       /* leaf <- intermediate A <- root */
    STACK_OF(X509) *chain_b;       /* leaf_b <- intermediate B <- root */
    struct cg_snapshot snap;
    struct cg_snapshot_cert certs[1];
    struct cg_snapshot_profile profiles[5];
    struct cg_snapshot_site sites[3];
    struct cg_snapshot_rule app_rules[6], partial_rules[1];
    struct cg_cidr ranges[6];
    X509 *signers_a[1], *signers_all[3], *signers_dup[1];
};

static struct fixture fx;

static struct cg_cidr cidr(const char *text)
{
    struct cg_cidr c;
    struct cg_err err;
    if (cg_cidr_parse(text, &c, &err)) fail_msg("%s: %s", text, err.msg);
    return c;
}

static STACK_OF(X509) *chain_of(X509 *a, X509 *b, X509 *c)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    sk_X509_push(sk, a);
    sk_X509_push(sk, b);
    sk_X509_push(sk, c);
    return sk;
}

static struct cg_snapshot_rule rule(const char *path, int profile)
{
    return (struct cg_snapshot_rule){.path = (char *)path, .path_len = strlen(path), .profile = profile};
}

enum { P_BY_IP, P_INTER_A, P_MIXED, P_EMPTY, P_DUP };

static int setup(void **state)
{
    (void)state;
    const struct tp_pki *p = tp_pki_get();
    fx.key_b = tp_key_ec();
    struct tp_opts ca = {.ca = true, .not_after = 3650L * 86400, .serial = 40};
    fx.int_b = tp_cert("Test Intermediate B", fx.key_b, p->root, p->root_key, &ca);
    struct tp_opts leaf = {.eku = "clientAuth", .serial = 41};
    fx.leaf_b = tp_cert("b.example", fx.key_b, fx.int_b, fx.key_b, &leaf);
    fx.chain_a = chain_of(p->leaf, p->intm, p->root);
    fx.chain_b = chain_of(fx.leaf_b, fx.int_b, p->root);

    fx.certs[0] = (struct cg_snapshot_cert){.name = "corp", .kind = CG_CERT_CA};
    static int cas0[] = {0};
    fx.ranges[0] = cidr("10.0.0.0/8"); /* by-ip: allowed */
    fx.ranges[1] = cidr("2001:db8::/32");
    fx.ranges[2] = cidr("10.66.0.0/16"); /* by-ip: denied */
    fx.ranges[3] = cidr("2001:db8:bad::/48");
    fx.ranges[4] = cidr("192.168.1.0/24"); /* mixed: allowed */
    fx.ranges[5] = cidr("192.168.1.13");   /* mixed: denied */
    fx.signers_a[0] = p->intm;
    fx.signers_all[0] = p->root;
    fx.signers_all[1] = p->intm;
    fx.signers_all[2] = fx.int_b;
    fx.signers_dup[0] = X509_dup(fx.int_b); /* another object, the same certificate */

    fx.profiles[P_BY_IP] = (struct cg_snapshot_profile){
        .name = "by-ip", .allow = &fx.ranges[0], .n_allow = 2, .deny = &fx.ranges[2], .n_deny = 2};
    fx.profiles[P_INTER_A] = (struct cg_snapshot_profile){
        .name = "inter-a", .cas = cas0, .n_cas = 1, .signers = fx.signers_a, .n_signers = 1};
    fx.profiles[P_MIXED] = (struct cg_snapshot_profile){.name = "mixed", .allow = &fx.ranges[4], .n_allow = 1,
                                                        .deny = &fx.ranges[5], .n_deny = 1, .cas = cas0, .n_cas = 1,
                                                        .signers = fx.signers_all, .n_signers = 3};
    fx.profiles[P_EMPTY] = (struct cg_snapshot_profile){.name = "empty"};
    fx.profiles[P_DUP] = (struct cg_snapshot_profile){.name = "only-b", .signers = fx.signers_dup, .n_signers = 1};

    /* longest first, as the loader orders them */
    fx.app_rules[0] = rule("/internal/", CG_PROFILE_DENY_ALL);
    fx.app_rules[1] = rule("/partner/", P_DUP);
    fx.app_rules[2] = rule("/public/", CG_PROFILE_ALLOW_ALL);
    fx.app_rules[3] = rule("/admin", P_INTER_A);
    fx.app_rules[4] = rule("/api/", P_MIXED);
    fx.app_rules[5] = rule("/", P_BY_IP);
    fx.partial_rules[0] = rule("/admin/", CG_PROFILE_DENY_ALL);
    fx.sites[0] = (struct cg_snapshot_site){.name = "app", .rules = fx.app_rules, .n_rules = 6};
    fx.sites[1] = (struct cg_snapshot_site){.name = "open"};
    fx.sites[2] = (struct cg_snapshot_site){.name = "partial", .rules = fx.partial_rules, .n_rules = 1};
    fx.snap = (struct cg_snapshot){.certs = fx.certs, .n_certs = 1, .profiles = fx.profiles, .n_profiles = 5,
                                   .sites = fx.sites, .n_sites = 3};
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sk_X509_free(fx.chain_a);
    sk_X509_free(fx.chain_b);
    X509_free(fx.signers_dup[0]);
    X509_free(fx.leaf_b);
    X509_free(fx.int_b);
    EVP_PKEY_free(fx.key_b);
    return 0;
}

struct addr {
    struct sockaddr_storage ss;
};

static const struct sockaddr *ip(struct addr *a, const char *text)
{
    memset(a, 0, sizeof(*a));
    if (strchr(text, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
    }
    return (const struct sockaddr *)&a->ss;
}

/* Decides path (normalised first, as the ingress does) on site for a client at addr (NULL: none)
 * with chain, and checks the verdict. */
static void expect(int site, const char *path, const char *addr, STACK_OF(X509) *chain, bool allowed,
                   const char *rule_path, const char *profile, const char *reason)
{
    char norm[256];
    size_t n;
    const char *why;
    if (cg_site_path_normalize(cg_slice_str(path), norm, sizeof(norm), &n, &why)) fail_msg("%s: %s", path, why);
    struct addr a;
    struct cg_access_request r = {.site = site, .path = norm, .path_len = n, .addr = addr ? ip(&a, addr) : NULL,
                                  .chain = chain};
    struct cg_access_verdict v;
    memset(&v, 0x5a, sizeof(v));
    cg_access_check(&fx.snap, &r, &v);
    const char *who = fx.sites[site].name;
    if (!addr) addr = "-";
    if (v.allowed != allowed)
        fail_msg("%s %s from %s: allowed=%d (%s), expected %d", who, path, addr, v.allowed, v.reason, allowed);
    if (strcmp(v.reason, reason)) fail_msg("%s %s from %s: reason %s, expected %s", who, path, addr, v.reason, reason);
    const char *none = "(none)";
    if (rule_path ? !v.rule || strcmp(v.rule, rule_path) : v.rule != NULL)
        fail_msg("%s %s: rule %s, expected %s", who, path, v.rule ? v.rule : none, rule_path ? rule_path : none);
    if (profile ? !v.profile || strcmp(v.profile, profile) : v.profile != NULL)
        fail_msg("%s %s: profile %s, expected %s", who, path, v.profile ? v.profile : none, profile ? profile : none);
}

static void test_no_rules_allow_all(void **state)
{
    (void)state;
    expect(1, "/", NULL, NULL, true, NULL, NULL, "no_rules");
    expect(1, "/admin/x", "203.0.113.1", NULL, true, NULL, NULL, "no_rules");
    /* a path no rule covers is allowed as on a site without rules */
    expect(2, "/other", "203.0.113.1", NULL, true, NULL, NULL, "no_rules");
    expect(2, "/admin", "203.0.113.1", NULL, true, NULL, NULL, "no_rules"); /* "/admin/" covers the subtree only */
    expect(2, "/admin/", "203.0.113.1", fx.chain_a, false, "/admin/", "deny-all", "deny_all");
    expect(2, "/admin/x/y", NULL, NULL, false, "/admin/", "deny-all", "deny_all");
}

static void test_longest_prefix_and_inheritance(void **state)
{
    (void)state;
    expect(0, "/admin/users", NULL, fx.chain_a, true, "/admin", "inter-a", "certificate");
    expect(0, "/admin", NULL, fx.chain_a, true, "/admin", "inter-a", "certificate");
    expect(0, "/adminx", NULL, NULL, false, "/admin", "inter-a", "no_certificate"); /* a plain string prefix */
    expect(0, "/api/v1/deep/x", "192.168.1.7", NULL, true, "/api/", "mixed", "ip_allowed");
    expect(0, "/api", "10.1.1.1", NULL, true, "/", "by-ip", "ip_allowed"); /* "/api/" does not cover "/api" */
    expect(0, "/x", "10.1.1.1", NULL, true, "/", "by-ip", "ip_allowed");
    expect(0, "/", "10.1.1.1", NULL, true, "/", "by-ip", "ip_allowed");
}

static void test_presets(void **state)
{
    (void)state;
    expect(0, "/public/x", NULL, NULL, true, "/public/", "allow-all", "allow_all");
    expect(0, "/public/", "10.66.0.1", NULL, true, "/public/", "allow-all", "allow_all");
    expect(0, "/internal/x", "10.1.1.1", fx.chain_a, false, "/internal/", "deny-all", "deny_all");
}

static void test_denied_ip_beats_everything(void **state)
{
    (void)state;
    /* in an allowed range and in a denied one */
    expect(0, "/x", "10.66.3.4", NULL, false, "/", "by-ip", "ip_denied");
    /* a certificate from a signer does not help a denied address */
    expect(0, "/api/a", "192.168.1.13", fx.chain_a, false, "/api/", "mixed", "ip_denied");
    expect(0, "/api/a", "192.168.1.14", fx.chain_a, true, "/api/", "mixed", "ip_allowed");
}

static void test_ip_or_certificate(void **state)
{
    (void)state;
    expect(0, "/api/a", "192.168.1.5", NULL, true, "/api/", "mixed", "ip_allowed");
    expect(0, "/api/a", "203.0.113.9", fx.chain_a, true, "/api/", "mixed", "certificate");
    expect(0, "/api/a", "203.0.113.9", fx.chain_b, true, "/api/", "mixed", "certificate"); /* whole bundle */
    expect(0, "/api/a", "203.0.113.9", NULL, false, "/api/", "mixed", "no_certificate");
    expect(0, "/api/a", NULL, fx.chain_a, true, "/api/", "mixed", "certificate"); /* no address known */
    expect(0, "/x", "203.0.113.9", fx.chain_a, false, "/", "by-ip", "certificate_not_accepted");
}

static void test_selected_intermediate(void **state)
{
    (void)state;
    expect(0, "/admin", "203.0.113.9", fx.chain_a, true, "/admin", "inter-a", "certificate");
    /* valid, from the same root, but through the other intermediate */
    expect(0, "/admin", "203.0.113.9", fx.chain_b, false, "/admin", "inter-a", "certificate_not_accepted");
    expect(0, "/admin", "203.0.113.9", NULL, false, "/admin", "inter-a", "no_certificate");
    /* signers compare by content, not by object */
    expect(0, "/partner/x", NULL, fx.chain_b, true, "/partner/", "only-b", "certificate");
    expect(0, "/partner/x", NULL, fx.chain_a, false, "/partner/", "only-b", "certificate_not_accepted");
}

static void test_ipv6_and_mapped(void **state)
{
    (void)state;
    expect(0, "/x", "2001:db8::5", NULL, true, "/", "by-ip", "ip_allowed");
    expect(0, "/x", "2001:db8:bad::1", NULL, false, "/", "by-ip", "ip_denied");
    expect(0, "/x", "2001:db9::1", NULL, false, "/", "by-ip", "no_certificate");
    expect(0, "/x", "::ffff:10.1.2.3", NULL, true, "/", "by-ip", "ip_allowed");
    expect(0, "/x", "::ffff:10.66.0.1", NULL, false, "/", "by-ip", "ip_denied");
    expect(0, "/api/", "::ffff:192.168.1.13", fx.chain_a, false, "/api/", "mixed", "ip_denied");
    expect(0, "/x", "::1", NULL, false, "/", "by-ip", "no_certificate");
}

static void test_bypass_shapes_meet_their_rule(void **state)
{
    (void)state;
    expect(0, "/public/../admin", "203.0.113.9", fx.chain_b, false, "/admin", "inter-a", "certificate_not_accepted");
    expect(0, "/public/..;/admin", "203.0.113.9", NULL, false, "/admin", "inter-a", "no_certificate");
    expect(0, "//internal//x", NULL, NULL, false, "/internal/", "deny-all", "deny_all");
    expect(0, "/%69nternal/x", NULL, NULL, false, "/internal/", "deny-all", "deny_all");
    expect(0, "/internal;a=b/x", NULL, NULL, false, "/internal/", "deny-all", "deny_all");
    expect(0, "/public/%2e%2e/internal/x", NULL, NULL, false, "/internal/", "deny-all", "deny_all");
    expect(2, "/admin;x/secret", NULL, NULL, false, "/admin/", "deny-all", "deny_all");
}

static void test_empty_profile_and_chain_helper(void **state)
{
    (void)state;
    /* a profile with no range and no CA lets nobody through */
    fx.app_rules[3].profile = P_EMPTY;
    fx.app_rules[3].path = "/admin";
    expect(0, "/admin", "10.1.1.1", fx.chain_a, false, "/admin", "empty", "certificate_not_accepted");
    expect(0, "/admin", "10.1.1.1", NULL, false, "/admin", "empty", "no_certificate");
    fx.app_rules[3].profile = P_INTER_A;

    assert_false(cg_chain_contains_any(NULL, fx.signers_all, 3));
    assert_false(cg_chain_contains_any(fx.chain_a, NULL, 0));
    assert_true(cg_chain_contains_any(fx.chain_a, fx.signers_all, 3));
    assert_true(cg_chain_contains_any(fx.chain_b, fx.signers_dup, 1));
    assert_false(cg_chain_contains_any(fx.chain_a, fx.signers_dup, 1));

    /* an index out of range (a caller's bug) is refused, not read */
    struct cg_access_request r = {.site = 7, .path = "/", .path_len = 1};
    struct cg_access_verdict v;
    cg_access_check(&fx.snap, &r, &v);
    assert_false(v.allowed);
    r.site = -1;
    cg_access_check(&fx.snap, &r, &v);
    assert_false(v.allowed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_plain),
        cmocka_unit_test(test_normalize_bypass_shapes),
        cmocka_unit_test(test_normalize_refusals),
        cmocka_unit_test(test_no_rules_allow_all),
        cmocka_unit_test(test_longest_prefix_and_inheritance),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_denied_ip_beats_everything),
        cmocka_unit_test(test_ip_or_certificate),
        cmocka_unit_test(test_selected_intermediate),
        cmocka_unit_test(test_ipv6_and_mapped),
        cmocka_unit_test(test_bypass_shapes_meet_their_rule),
        cmocka_unit_test(test_empty_profile_and_chain_helper),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
