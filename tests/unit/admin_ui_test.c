/* The web page compiled into the binary (admin/ui.c and the table cmake/embed.cmake generates
 * from src/admin/ui/): every file is found at its path with its Content-Type and exact bytes,
 * index.html at "/", nothing else is found (near misses included); and the page keeps the rules
 * the server's Content-Security-Policy and the escaping rule depend on: no inline script, style
 * or event handler in the HTML, no innerHTML-like sink, eval or persistent storage in the script. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "admin/ui.h"

/* the generated table (<build>/generated/admin_ui_assets.c), for the tests that walk every file */
extern const struct cg_admin_asset cg_admin_ui_assets[];
extern const size_t cg_admin_ui_n_assets;

static const struct cg_admin_asset *find(const char *path)
{
    return cg_admin_ui_find(cg_slice_str(path));
}

/* The asset's bytes as a string (text assets hold no NUL; the generator ends each with one). */
static const char *text_of(const char *path)
{
    const struct cg_admin_asset *a = find(path);
    assert_non_null(a);
    assert_int_equal(a->data[a->len], 0);
    assert_int_equal(strlen((const char *)a->data), a->len);
    return (const char *)a->data;
}

static void test_index_at_root(void **state)
{
    (void)state;
    const struct cg_admin_asset *root = find("/"), *index = find("/index.html");
    assert_non_null(root);
    assert_non_null(index);
    assert_string_equal(root->path, "/");
    assert_string_equal(root->content_type, "text/html; charset=utf-8");
    assert_ptr_equal(root->data, index->data);
    assert_int_equal(root->len, index->len);
    const char *html = text_of("/");
    assert_true(strncmp(html, "<!doctype html>", 15) == 0);
    assert_non_null(strstr(html, "<script type=\"module\" src=\"/app.js\"></script>"));
    assert_non_null(strstr(html, "<link rel=\"stylesheet\" href=\"/app.css\">"));
}

static void test_each_file_with_its_type(void **state)
{
    (void)state;
    static const struct {
        const char *path, *type;
    } want[] = {
        {"/app.js", "text/javascript; charset=utf-8"},
        {"/app.css", "text/css; charset=utf-8"},
        {"/favicon.svg", "image/svg+xml"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct cg_admin_asset *a = find(want[i].path);
        assert_non_null(a);
        assert_string_equal(a->path, want[i].path);
        assert_string_equal(a->content_type, want[i].type);
        assert_true(a->len > 100);
    }
    /* every entry of the table is found at its own path, and ends with the generator's NUL */
    assert_true(cg_admin_ui_n_assets >= 5);
    for (size_t i = 0; i < cg_admin_ui_n_assets; i++) {
        const struct cg_admin_asset *a = &cg_admin_ui_assets[i];
        assert_ptr_equal(find(a->path), a);
        assert_int_equal(a->data[a->len], 0);
        assert_true(a->len > 0);
    }
}

static void test_near_misses_are_not_found(void **state)
{
    (void)state;
    static const char *misses[] = {
        "", "/app", "/app.js/", "app.js", "/APP.JS", "/app.js?v=1", "/app.jss", "/../app.js", "//app.js",
        "/ui/app.js", "/index.htm", "/api/v1", "/favicon.ico", "/app.css ", " /app.css",
    };
    for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
        if (find(misses[i])) fail_msg("'%s' was found", misses[i]);
    }
    /* the slice's length counts, not a NUL inside it */
    assert_null(cg_admin_ui_find(cg_slice_make("/app.js\0x", 9)));
    assert_null(cg_admin_ui_find(cg_slice_make("/app.js", 6)));
    assert_non_null(cg_admin_ui_find(cg_slice_make("/app.jsXX", 7)));
}

/* An attribute `name=` (whole word, after a space) in html: case-insensitive. */
static bool has_attribute(const char *html, const char *prefix, bool prefix_only)
{
    size_t n = strlen(prefix);
    for (const char *p = html; (p = strchr(p, ' ')) != NULL; p++) {
        if (strncasecmp(p + 1, prefix, n)) continue;
        const char *q = p + 1 + n;
        if (prefix_only)
            while (isalpha((unsigned char)*q)) q++;
        if (*q == '=') return true;
    }
    return false;
}

static void test_html_keeps_the_csp(void **state)
{
    (void)state;
    const char *html = text_of("/");
    /* every script is loaded from a file */
    for (const char *p = html; (p = strstr(p, "<script")) != NULL; p++) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        const char *src = strstr(p, " src=\"/");
        if (!src || src > end) fail_msg("inline script at offset %ld", (long)(p - html));
        assert_true(strncmp(end + 1, "</script>", 9) == 0);
    }
    assert_null(strstr(html, "<style"));
    assert_false(has_attribute(html, "style", false));
    assert_false(has_attribute(html, "on", true)); /* onclick=, onload= ... */
    assert_null(strstr(html, "javascript:"));
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://")); /* no CDN, no external font */
    /* the checker itself finds what it looks for */
    assert_true(has_attribute("<a onclick=\"x\">", "on", true));
    assert_true(has_attribute("<p style=\"x\">", "style", false));
    assert_false(has_attribute("<p>on the way = there</p>", "on", true));
}

static void test_script_builds_dom_safely(void **state)
{
    (void)state;
    const char *js = text_of("/app.js");
    static const char *banned[] = {
        "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
        "localStorage", "document.cookie", ".style.", "'style'", "import(", "XMLHttpRequest", "WebSocket",
    };
    for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++) {
        if (strstr(js, banned[i])) fail_msg("app.js uses '%s'", banned[i]);
    }
    /* one fetch, to the API of the server that served the page */
    const char *f = strstr(js, "fetch(");
    assert_non_null(f);
    assert_null(strstr(f + 1, "fetch("));
    assert_true(strncmp(f, "fetch(`/api/v1${path}`", 22) == 0);
    assert_non_null(strstr(js, "sessionStorage"));
    assert_non_null(strstr(js, "textContent"));
    const char *css = text_of("/app.css");
    assert_null(strstr(css, "@import"));
    assert_null(strstr(css, "http"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_at_root),
        cmocka_unit_test(test_each_file_with_its_type),
        cmocka_unit_test(test_near_misses_are_not_found),
        cmocka_unit_test(test_html_keeps_the_csp),
        cmocka_unit_test(test_script_builds_dom_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
