/* src/config/bootstrap.c: the bootstrap YAML file. Refusals are first-class: each names the
 * file, the line and the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "config/bootstrap.h"
#include "core/mem.h"

static int parse(const char *text, struct cg_config *c, struct cg_err *e)
{
    cg_err_clear(e);
    return cg_config_parse("t.yaml", cg_slice_str(text), c, e);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) fail_msg("expected '%s' in '%s'", needle, hay);
}

static void assert_defaults(const struct cg_config *c)
{
    assert_null(c->environment);
    assert_null(c->store_url);
    assert_null(c->master_key);
    assert_int_equal(c->listen_egress.n, 0);
    assert_int_equal(c->listen_ingress.n, 0);
    assert_int_equal(c->listen_admin.n, 0);
    assert_int_equal(c->workers, 0);
    assert_int_equal(c->log_level, CG_LOG_INFO);
    assert_null(c->log_access);
    assert_int_equal(c->log_format, CG_LOG_FORMAT_TEXT);
    assert_false(c->egress_allow_connect);
    assert_null(c->egress_default_upstream);
    assert_int_equal(c->timeout_head_ms, 30000);
    assert_int_equal(c->timeout_idle_ms, 60000);
    assert_int_equal(c->timeout_connect_ms, 5000);
    assert_int_equal(c->timeout_response_ms, 60000);
    assert_int_equal(c->timeout_drain_ms, 30000);
    assert_int_equal(c->limit_head_bytes, 65536);
    assert_int_equal(c->limit_headers, 100);
    assert_int_equal(c->limit_connections, 10000);
    assert_int_equal(c->reload_ms, 250);
}

/* Parses text expecting failure with code; checks the message starts with "t.yaml:<line>: "
 * and holds needle, and that the config is left as after init. */
static void refuse(const char *text, int code, unsigned line, const char *needle)
{
    struct cg_config c;
    struct cg_err e;
    int rc = parse(text, &c, &e);
    if (rc != code) fail_msg("for <<%s>> expected %d, got %d (%s)", text, code, rc, e.msg);
    assert_int_equal(e.code, code);
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "t.yaml:%u: ", line);
    if (strncmp(e.msg, prefix, strlen(prefix)) != 0)
        fail_msg("for <<%s>> expected prefix '%s' in '%s'", text, prefix, e.msg);
    assert_contains(e.msg, needle);
    assert_defaults(&c);
    cg_config_cleanup(&c);
}

/* ---- accepted ---------------------------------------------------------------------------- */

/* The daemon's keys (issue 3): every one accepted and applied, the top-level table beyond eight
 * keys (a stack array once overflowed there), and range/type refusals with the line. */
static void test_daemon_keys(void **state)
{
    (void)state;
    struct cg_config c;
    struct cg_err e;
    assert_int_equal(parse("environment: stage\n"
                           "store: sqlite:/x.db\n"
                           "master_key: /k\n"
                           "listen: {egress: 127.0.0.1:8080}\n"
                           "workers: 2\n"
                           "log: {level: warn, access: \"off\", format: json}\n"
                           "egress: {allow_connect: true, default_upstream: partner}\n"
                           "timeouts: {head_ms: 1000, idle_ms: 2000, connect_ms: 3000, response_ms: 4000, drain_ms: 0}\n"
                           "limits: {max_head_bytes: 4096, max_headers: 20, max_connections: 7}\n"
                           "reload_ms: 100\n",
                           &c, &e),
                     0);
    assert_true(c.egress_allow_connect);
    assert_string_equal(c.egress_default_upstream, "partner");
    assert_int_equal(c.timeout_head_ms, 1000);
    assert_int_equal(c.timeout_idle_ms, 2000);
    assert_int_equal(c.timeout_connect_ms, 3000);
    assert_int_equal(c.timeout_response_ms, 4000);
    assert_int_equal(c.timeout_drain_ms, 0);
    assert_int_equal(c.limit_head_bytes, 4096);
    assert_int_equal(c.limit_headers, 20);
    assert_int_equal(c.limit_connections, 7);
    assert_int_equal(c.reload_ms, 100);
    assert_string_equal(c.log_access, "off");
    cg_config_cleanup(&c);

    refuse("egress:\n  allow_connect: yes\n", CG_EINVAL, 2, "not true or false");
    refuse("egress:\n  allow_connect: \"true\"\n", CG_EINVAL, 2, "not true or false");
    refuse("timeouts:\n  head_ms: 5\n", CG_EINVAL, 2, "not a whole number from 100 to 3600000");
    refuse("timeouts:\n  connect_ms: 1h\n", CG_EINVAL, 2, "'timeouts.connect_ms'");
    refuse("limits:\n  max_headers: 500\n", CG_EINVAL, 2, "from 8 to 128");
    refuse("limits:\n  max_connections: 0\n", CG_EINVAL, 2, "from 1 to 1000000");
    refuse("reload_ms: 10\n", CG_EINVAL, 1, "from 50 to 60000");
    refuse("timeouts:\n  head: 5\n", CG_EINVAL, 2, "unknown key 'head'");
    refuse("egress:\n  default_upstream:\n", CG_EINVAL, 2, "has no value");
}

static void test_empty_documents_are_defaults(void **state)
{
    (void)state;
    const char *docs[] = {"", "\n", "# only a comment\n", "---\n", "---\n...\n", "~\n", "null\n",
                          "{}\n"};
    for (size_t i = 0; i < CG_ARRAY_LEN(docs); i++) {
        struct cg_config c;
        struct cg_err e;
        int rc = parse(docs[i], &c, &e);
        if (rc != 0) fail_msg("<<%s>>: %s", docs[i], e.msg);
        assert_defaults(&c);
        cg_config_cleanup(&c);
    }
}

/* The example in bootstrap.h, verbatim. */
static void test_header_example(void **state)
{
    (void)state;
    const char *text =
        "environment: production            # default \"production\"\n"
        "store: sqlite:/var/lib/certgate/certgate.db\n"
        "master_key: /var/lib/certgate/master.key\n"
        "listen:                            # each an address or a list of addresses\n"
        "  egress: 127.0.0.1:8080\n"
        "  ingress: [0.0.0.0:443, \"[::]:443\"]\n"
        "  admin: 127.0.0.1:9443\n"
        "workers: 2                         # default: number of cores (0 = that)\n"
        "log:\n"
        "  level: info                      # debug | info | warn | error\n"
        "  access: stderr                   # a path, or stderr\n"
        "  format: text                     # text | json\n";
    struct cg_config c;
    struct cg_err e;
    assert_int_equal(parse(text, &c, &e), 0);
    assert_string_equal(c.environment, "production");
    assert_string_equal(c.store_url, "sqlite:/var/lib/certgate/certgate.db");
    assert_string_equal(c.master_key, "/var/lib/certgate/master.key");
    assert_int_equal(c.listen_egress.n, 1);
    assert_string_equal(c.listen_egress.items[0], "127.0.0.1:8080");
    assert_int_equal(c.listen_ingress.n, 2);
    assert_string_equal(c.listen_ingress.items[0], "0.0.0.0:443");
    assert_string_equal(c.listen_ingress.items[1], "[::]:443");
    assert_int_equal(c.listen_admin.n, 1);
    assert_string_equal(c.listen_admin.items[0], "127.0.0.1:9443");
    assert_int_equal(c.workers, 2);
    assert_int_equal(c.log_level, CG_LOG_INFO);
    assert_null(c.log_access);
    assert_int_equal(c.log_format, CG_LOG_FORMAT_TEXT);
    cg_config_cleanup(&c);
    cg_config_cleanup(&c); /* cleanup is idempotent */
}

static void test_every_key(void **state)
{
    (void)state;
    const char *text = "environment: acc-2_x\n"
                       "store: \"postgres://u@db/certgate\"\n"
                       "master_key: 'C:\\keys\\m.key'\n"
                       "listen:\n"
                       "  egress:\n"
                       "    - 127.0.0.1:8080\n"
                       "    - \"[::1]:8080\"\n"
                       "  ingress: :443\n"
                       "  admin: []\n"
                       "workers: 1024\n"
                       "log: {level: debug, access: /var/log/cg/access.log, format: json}\n";
    struct cg_config c;
    struct cg_err e;
    int rc = parse(text, &c, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_string_equal(c.environment, "acc-2_x");
    assert_string_equal(c.store_url, "postgres://u@db/certgate");
    assert_string_equal(c.master_key, "C:\\keys\\m.key");
    assert_int_equal(c.listen_egress.n, 2);
    assert_string_equal(c.listen_egress.items[1], "[::1]:8080");
    assert_int_equal(c.listen_ingress.n, 1);
    assert_string_equal(c.listen_ingress.items[0], ":443");
    assert_int_equal(c.listen_admin.n, 0);
    assert_int_equal(c.workers, 1024);
    assert_int_equal(c.log_level, CG_LOG_DEBUG);
    assert_string_equal(c.log_access, "/var/log/cg/access.log");
    assert_int_equal(c.log_format, CG_LOG_FORMAT_JSON);
    cg_config_cleanup(&c);
}

static void test_values(void **state)
{
    (void)state;
    struct cg_config c;
    struct cg_err e;
    const char *levels[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < 4; i++) {
        char text[64];
        snprintf(text, sizeof(text), "log:\n  level: %s\n", levels[i]);
        assert_int_equal(parse(text, &c, &e), 0);
        assert_int_equal(c.log_level, (enum cg_log_level)i);
        cg_config_cleanup(&c);
    }
    assert_int_equal(parse("workers: 0\n", &c, &e), 0);
    assert_int_equal(c.workers, 0);
    cg_config_cleanup(&c);
    assert_int_equal(parse("log:\n  format: text\n", &c, &e), 0);
    assert_int_equal(c.log_format, CG_LOG_FORMAT_TEXT);
    cg_config_cleanup(&c);
    /* environment: 1 to 63 characters */
    assert_int_equal(parse("environment: 0\n", &c, &e), 0);
    assert_string_equal(c.environment, "0");
    cg_config_cleanup(&c);
    char text[128] = "environment: ";
    size_t n = strlen(text);
    memset(text + n, 'a', 63);
    text[n + 63] = '\0';
    assert_int_equal(parse(text, &c, &e), 0);
    assert_int_equal(strlen(c.environment), 63);
    cg_config_cleanup(&c);
    /* empty mappings and lists ("log:" with its lines commented out) are nothing set */
    assert_int_equal(parse("listen:\nlog:\n#  level: debug\n", &c, &e), 0);
    assert_defaults(&c);
    cg_config_cleanup(&c);
    assert_int_equal(parse("listen:\n  ingress:\n  egress: []\n", &c, &e), 0);
    assert_defaults(&c);
    cg_config_cleanup(&c);
    /* a later access: stderr replaces nothing and means stderr */
    assert_int_equal(parse("log:\n  access: stderr\n", &c, &e), 0);
    assert_null(c.log_access);
    cg_config_cleanup(&c);
    /* quoted keys are keys */
    assert_int_equal(parse("\"environment\": dev\n", &c, &e), 0);
    assert_string_equal(c.environment, "dev");
    cg_config_cleanup(&c);
}

static void test_listen_addr_valid(void **state)
{
    (void)state;
    const char *good[] = {"127.0.0.1:8080", "0.0.0.0:443", "[::]:443", "[::1]:1", ":443",
                          "localhost:65535", "gw-1.example.com:8443", "[fe80::1%eth0]:80",
                          "[2001:db8::1]:9443", "a:1", "10.0.0.1:1", "1a.example:2"};
    for (size_t i = 0; i < CG_ARRAY_LEN(good); i++)
        if (!cg_config_listen_addr_valid(good[i])) fail_msg("'%s' should be valid", good[i]);
    const char *bad[] = {"", "443", ":", "host:", "host:0", "host:65536", "host:123456",
                         "host:80a", "host:+80", "host:-1", "::1:443", "[::1]443", "[::1]",
                         "[::1]:", "[]:80", "[zz::]:80", "[1.2.3.4]:80", "ho st:80", "-host:80",
                         "host-:80", "a..b:80", ".a:80", "host:80 ", " host:80", "[::1]:80x",
                         "[fe80::1%]:80", "*:80", "h\xc3\xa9:80", "999.1.1.1:80", "1.2.3:80",
                         "1.2.3.4.:80", "01.2.3.4:80"};
    for (size_t i = 0; i < CG_ARRAY_LEN(bad); i++)
        if (cg_config_listen_addr_valid(bad[i])) fail_msg("'%s' should be invalid", bad[i]);
    assert_false(cg_config_listen_addr_valid(NULL));
}

static void test_load_file(void **state)
{
    (void)state;
    const char *dir = getenv("CG_TEST_TMP");
    char path[512];
    snprintf(path, sizeof(path), "%s/config_bootstrap_XXXXXX", dir && dir[0] ? dir : "/tmp");
    if (dir && dir[0]) {
        char mk[600];
        snprintf(mk, sizeof(mk), "mkdir -p '%s'", dir);
        if (system(mk) != 0) snprintf(path, sizeof(path), "/tmp/config_bootstrap_XXXXXX");
    }
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "environment: staging\nworkers: 3\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct cg_config c;
    struct cg_err e;
    cg_err_clear(&e);
    assert_int_equal(cg_config_load(path, &c, &e), 0);
    assert_string_equal(c.environment, "staging");
    assert_int_equal(c.workers, 3);
    cg_config_cleanup(&c);

    /* the file name is the one in messages */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    text = "environment: staging\nworkers: many\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(cg_config_load(path, &c, &e), CG_EINVAL);
    char prefix[600];
    snprintf(prefix, sizeof(prefix), "%s:2: ", path);
    assert_true(strncmp(e.msg, prefix, strlen(prefix)) == 0);
    assert_defaults(&c);

    /* over the cap */
    fd = open(path, O_WRONLY | O_TRUNC);
    char *big = cg_malloc(CG_CONFIG_MAX_BYTES + 1);
    memset(big, '#', CG_CONFIG_MAX_BYTES + 1);
    assert_int_equal(write(fd, big, CG_CONFIG_MAX_BYTES + 1), CG_CONFIG_MAX_BYTES + 1);
    close(fd);
    cg_free(big);
    assert_int_equal(cg_config_load(path, &c, &e), CG_ELIMIT);
    assert_contains(e.msg, path);
    assert_defaults(&c);
    unlink(path);

    assert_int_equal(cg_config_load(path, &c, &e), CG_ENOENT);
    assert_contains(e.msg, path);
    assert_defaults(&c);
}

/* ---- refused ----------------------------------------------------------------------------- */

static void test_unknown_keys(void **state)
{
    (void)state;
    refuse("environment: x\nlisen:\n  egress: :1\n", CG_EINVAL, 2, "unknown key 'lisen'");
    struct cg_config c;
    struct cg_err e;
    assert_int_equal(parse("environment: x\nlisen:\n  egress: :1\n", &c, &e), CG_EINVAL);
    assert_contains(e.hint, "did you mean 'listen'");
    assert_contains(e.hint, "environment, store, master_key, listen, workers, log");
    /* nested: the mapping is named and its keys listed */
    assert_int_equal(parse("listen:\n  egress: :1\n  ingres: :443\n", &c, &e), CG_EINVAL);
    assert_string_equal(e.msg, "t.yaml:3: unknown key 'ingres' in 'listen'");
    assert_contains(e.hint, "egress, ingress, admin");
    assert_int_equal(parse("log:\n  colour: true\n", &c, &e), CG_EINVAL);
    assert_string_equal(e.msg, "t.yaml:2: unknown key 'colour' in 'log'");
    assert_contains(e.hint, "level, access, format");
    assert_null(strstr(e.hint, "did you mean"));
    /* keys are case-sensitive; merge keys are just unknown */
    refuse("Environment: x\n", CG_EINVAL, 1, "unknown key 'Environment'");
    refuse("<<: {workers: 1}\n", CG_EINVAL, 1, "unknown key '<<'");
    /* a hostile key is shown cut and without control characters */
    assert_int_equal(parse("\"a\\e[31mb\": 1\n", &c, &e), CG_EINVAL);
    assert_null(strchr(e.msg, '\x1b'));
    char text[400] = "";
    memset(text, 'k', 300);
    memcpy(text + 300, ": 1\n", 5);
    assert_int_equal(parse(text, &c, &e), CG_EINVAL);
    assert_true(strlen(e.msg) < 120);
    /* a key that is not a name */
    refuse("? [a, b]\n: 1\n", CG_EINVAL, 1, "must be a name, not a list");
    refuse("log:\n  ? {a: 1}\n  : 1\n", CG_EINVAL, 2, "a key in 'log' must be a name");
}

static void test_wrong_types(void **state)
{
    (void)state;
    refuse("store: [a, b]\n", CG_EINVAL, 1, "'store' must be a single value, not a list");
    refuse("environment:\n  a: b\n", CG_EINVAL, 2, "'environment' must be a single value, not a mapping");
    refuse("master_key: [k]\n", CG_EINVAL, 1, "'master_key' must be a single value");
    refuse("workers: [1]\n", CG_EINVAL, 1, "'workers' must be a single value");
    refuse("listen: :443\n", CG_EINVAL, 1, "'listen' must be a mapping of keys, not a single value");
    refuse("listen: [a, b]\n", CG_EINVAL, 1, "'listen' must be a mapping of keys, not a list");
    refuse("log: debug\n", CG_EINVAL, 1, "'log' must be a mapping of keys");
    refuse("log:\n  level: [debug]\n", CG_EINVAL, 2, "'log.level' must be a single value");
    refuse("log:\n  format: {a: b}\n", CG_EINVAL, 2, "'log.format' must be a single value");
    refuse("log:\n  access: [a]\n", CG_EINVAL, 2, "'log.access' must be a single value");
    refuse("listen:\n  ingress: {a: b}\n", CG_EINVAL, 2,
           "'listen.ingress': each address must be a single value, not a mapping");
    refuse("listen:\n  ingress:\n    - :443\n    - [:444]\n", CG_EINVAL, 4,
           "each address must be a single value, not a list");
    refuse("listen:\n  admin: [':1', {a: 1}]\n", CG_EINVAL, 2, "not a mapping");
    refuse("- a\n- b\n", CG_EINVAL, 1, "the file must be a mapping of keys, not a list");
    refuse("just text\n", CG_EINVAL, 1, "the file must be a mapping of keys, not a single value");
    /* empty values where one is needed */
    refuse("store:\n", CG_EINVAL, 1, "'store' has no value");
    refuse("environment: ~\n", CG_EINVAL, 1, "'environment' has no value");
    refuse("master_key: ''\n", CG_EINVAL, 1, "'master_key' has no value");
    refuse("log:\n  level: null\n", CG_EINVAL, 2, "'log.level' has no value");
    refuse("listen:\n  admin: [~]\n", CG_EINVAL, 2, "is not a listen address");
}

static void test_bad_values(void **state)
{
    (void)state;
    refuse("environment: Production\n", CG_EINVAL, 1, "'environment' is 'Production', which is not a valid environment name");
    refuse("environment: -prod\n", CG_EINVAL, 1, "not a valid environment name");
    refuse("environment: _prod\n", CG_EINVAL, 1, "not a valid environment name");
    refuse("environment: pro d\n", CG_EINVAL, 1, "not a valid environment name");
    refuse("environment: prod.1\n", CG_EINVAL, 1, "not a valid environment name");
    char text[128] = "environment: ";
    size_t n = strlen(text);
    memset(text + n, 'a', 64);
    text[n + 64] = '\0';
    refuse(text, CG_EINVAL, 1, "not a valid environment name");

    refuse("workers: 1025\n", CG_EINVAL, 1, "'workers' is '1025', not a whole number from 0 to 1024");
    refuse("workers: -1\n", CG_EINVAL, 1, "'workers'");
    refuse("workers: 2.5\n", CG_EINVAL, 1, "'workers'");
    refuse("workers: 0x10\n", CG_EINVAL, 1, "'workers'");
    refuse("workers: many\n", CG_EINVAL, 1, "'workers'");
    refuse("workers: 99999999999999999999999\n", CG_EINVAL, 1, "'workers'");
    refuse("workers: \"2\"\n", CG_EINVAL, 1, "the quoted string '2'");
    refuse("workers: ' 2'\n", CG_EINVAL, 1, "'workers'");

    refuse("log:\n  level: verbose\n", CG_EINVAL, 2, "'log.level' is 'verbose', not a log level");
    refuse("log:\n  level: INFO\n", CG_EINVAL, 2, "not a log level");
    refuse("log:\n  format: xml\n", CG_EINVAL, 2, "'log.format' is 'xml', not a log format");

    refuse("listen:\n  egress: localhost\n", CG_EINVAL, 2,
           "'listen.egress': 'localhost' is not a listen address");
    refuse("listen:\n  egress: \"::1:8080\"\n", CG_EINVAL, 2, "is not a listen address");
    refuse("listen:\n  ingress: [0.0.0.0:443, 0.0.0.0:0]\n", CG_EINVAL, 2,
           "'listen.ingress': '0.0.0.0:0' is not a listen address");
    refuse("listen:\n  ingress:\n    - :443\n    - :70000\n", CG_EINVAL, 4, "':70000'");
    /* the same address twice, in one list or in two */
    refuse("listen:\n  ingress: [':443', ':443']\n", CG_EINVAL, 2,
           "address ':443' is already given in 'listen.ingress'");
    refuse("listen:\n  egress: 127.0.0.1:8080\n  admin:\n    - 127.0.0.1:8080\n", CG_EINVAL, 4,
           "'listen.admin': address '127.0.0.1:8080' is already given in 'listen.egress'");

    struct cg_config c;
    struct cg_err e;
    assert_int_equal(parse("log:\n  level: verbose\n", &c, &e), CG_EINVAL);
    assert_contains(e.hint, "debug, info, warn, error");
    assert_int_equal(parse("environment: Prod\n", &c, &e), CG_EINVAL);
    assert_contains(e.hint, "lowercase");
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    refuse("environment: a\nstore: s\nenvironment: b\n", CG_EINVAL, 3,
           "duplicate key 'environment' (first given on line 1)");
    refuse("log:\n  level: info\n  format: text\n  level: debug\n", CG_EINVAL, 4,
           "duplicate key 'log.level' (first given on line 2)");
    refuse("listen:\n  egress: :1\nlisten:\n  admin: :2\n", CG_EINVAL, 3, "duplicate key 'listen'");
    refuse("{workers: 1, workers: 2}\n", CG_EINVAL, 1, "duplicate key 'workers'");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    refuse("environment: x\nlisten:\n  ingress: [':1', ':2'\nworkers: 1\n", CG_EPROTO, 4,
           "YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence that starts on line 3");
    refuse("store: x\n  master_key: y\n", CG_EPROTO, 2, "YAML syntax error: mapping values are not allowed");
    refuse("environment: \"x\n", CG_EPROTO, 2, "YAML syntax error");
    refuse("log:\n\tlevel: info\n", CG_EPROTO, 2, "YAML syntax error");
    refuse("environment: x\n\x01\n", CG_EPROTO, 2, "control characters are not allowed");
    struct cg_config c;
    struct cg_err e;
    assert_int_equal(parse("store: x\n  master_key: y\n", &c, &e), CG_EPROTO);
    assert_contains(e.hint, "indentation");
    /* a NUL inside the input, and one written as an escape */
    static const char nul[] = "environment: a\0b\n";
    cg_err_clear(&e);
    assert_int_equal(cg_config_parse("t.yaml", cg_slice_make(nul, sizeof(nul) - 1), &c, &e), CG_EPROTO);
    assert_defaults(&c);
    refuse("store: \"a\\0b\"\n", CG_EPROTO, 1, "NUL byte");
}

static void test_anchors_aliases_tags(void **state)
{
    (void)state;
    refuse("environment: &e prod\nstore: *e\n", CG_EPROTO, 1, "YAML anchors ('&e') are not allowed");
    refuse("store: *e\n", CG_EPROTO, 1, "YAML aliases ('*e') are not allowed");
    refuse("log: &l\n  level: info\n", CG_EPROTO, 1, "anchors");
    refuse("listen:\n  ingress: &a [':1']\n", CG_EPROTO, 2, "anchors");
    /* billion laughs: refused at the first anchor, nothing is expanded */
    refuse("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
           "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
           "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
           CG_EINVAL, 1, "unknown key 'a'");
    refuse("store: &a [\"lol\",\"lol\"]\nmaster_key: &b [*a,*a]\n", CG_EPROTO, 1, "anchors");
    refuse("workers: !!str 2\n", CG_EPROTO, 1, "YAML tags ('tag:yaml.org,2002:str') are not allowed");
    refuse("log: !custom\n  level: info\n", CG_EPROTO, 1, "tags");
    struct cg_config c;
    struct cg_err e;
    assert_int_equal(parse("store: *e\n", &c, &e), CG_EPROTO);
    assert_contains(e.hint, "write the value out in full");
}

static void test_documents_and_size(void **state)
{
    (void)state;
    refuse("environment: a\n---\nenvironment: b\n", CG_EPROTO, 2, "more than one YAML document");
    refuse("---\n---\n", CG_EPROTO, 2, "more than one YAML document");

    /* exactly at the cap is parsed; one byte more is refused before parsing */
    char *big = cg_malloc(CG_CONFIG_MAX_BYTES + 2);
    memset(big, '\n', CG_CONFIG_MAX_BYTES + 1);
    memcpy(big, "workers: 3", 10);
    struct cg_config c;
    struct cg_err e;
    cg_err_clear(&e);
    assert_int_equal(cg_config_parse("t.yaml", cg_slice_make(big, CG_CONFIG_MAX_BYTES), &c, &e), 0);
    assert_int_equal(c.workers, 3);
    cg_config_cleanup(&c);
    assert_int_equal(cg_config_parse("t.yaml", cg_slice_make(big, CG_CONFIG_MAX_BYTES + 1), &c, &e),
                     CG_ELIMIT);
    assert_contains(e.msg, "t.yaml");
    assert_contains(e.msg, "limit");
    assert_defaults(&c);
    cg_free(big);
}

/* Messages carry the line of the offending key or value, deep in a realistic file. */
static void test_line_numbers(void **state)
{
    (void)state;
    const char *head = "# certgate bootstrap\n"
                       "environment: production\n"
                       "store: sqlite:/var/lib/certgate/certgate.db\n"
                       "\n"
                       "listen:\n"
                       "  egress: 127.0.0.1:8080\n";
    char text[512];
    snprintf(text, sizeof(text), "%s  lisen: :1\n", head);
    refuse(text, CG_EINVAL, 7, "unknown key 'lisen' in 'listen'");
    snprintf(text, sizeof(text), "%s  ingress:\n    - 0.0.0.0:443\n\n    - 0.0.0.0:99999\n", head);
    refuse(text, CG_EINVAL, 10, "'0.0.0.0:99999'");
    snprintf(text, sizeof(text), "%slog:\n  level: info\n  format: yaml\n", head);
    refuse(text, CG_EINVAL, 9, "'log.format' is 'yaml'");
    /* a NULL err is allowed */
    struct cg_config c;
    assert_int_equal(cg_config_parse("t.yaml", cg_slice_str("workers: x\n"), &c, NULL), CG_EINVAL);
    assert_defaults(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_documents_are_defaults),
        cmocka_unit_test(test_header_example),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_daemon_keys),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_listen_addr_valid),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_anchors_aliases_tags),
        cmocka_unit_test(test_documents_and_size),
        cmocka_unit_test(test_line_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
