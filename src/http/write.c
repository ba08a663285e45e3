/* Serializing heads (RFC 9112 3, 4, 5). What is written is checked as strictly as what is
 * parsed, so that no caller can inject a line break into a head (response splitting). */
#include <string.h>

#include "http/internal.h"

static bool all(struct cg_slice s, uint8_t cls)
{
    for (size_t i = 0; i < s.len; i++)
        if (!(cg_http_chars[s.ptr[i]] & cls)) return false;
    return true;
}

CG_RESULT cg_http_write_request_line(struct cg_buf *out, struct cg_slice method, struct cg_slice target)
{
    CG_ENSURE(method.len && all(method, CG_HTTP_C_TCHAR), CG_EINVAL);
    CG_ENSURE(target.len && all(target, CG_HTTP_C_TARGET), CG_EINVAL);
    CG_GUARD(cg_buf_reserve(out, method.len + target.len + 12));
    CG_GUARD(cg_buf_append(out, method.ptr, method.len));
    CG_GUARD(cg_buf_append(out, " ", 1));
    CG_GUARD(cg_buf_append(out, target.ptr, target.len));
    return cg_buf_append(out, " HTTP/1.1\r\n", 11);
}

CG_RESULT cg_http_write_status_line(struct cg_buf *out, int status, struct cg_slice reason)
{
    CG_ENSURE(status >= 100 && status <= 999, CG_EINVAL);
    if (reason.len == 0) reason = cg_slice_str(cg_http_reason(status));
    CG_ENSURE(all(reason, CG_HTTP_C_VALUE), CG_EINVAL);
    char line[13] = "HTTP/1.1 000 ";
    line[9] = (char)('0' + status / 100);
    line[10] = (char)('0' + status / 10 % 10);
    line[11] = (char)('0' + status % 10);
    CG_GUARD(cg_buf_reserve(out, sizeof(line) + reason.len + 2));
    CG_GUARD(cg_buf_append(out, line, sizeof(line)));
    CG_GUARD(cg_buf_append(out, reason.ptr, reason.len));
    return cg_buf_append(out, "\r\n", 2);
}

CG_RESULT cg_http_write_header(struct cg_buf *out, struct cg_slice name, struct cg_slice value)
{
    CG_ENSURE(name.len && all(name, CG_HTTP_C_TCHAR), CG_EINVAL);
    CG_ENSURE(all(value, CG_HTTP_C_VALUE), CG_EINVAL);
    CG_GUARD(cg_buf_reserve(out, name.len + value.len + 4));
    CG_GUARD(cg_buf_append(out, name.ptr, name.len));
    CG_GUARD(cg_buf_append(out, ": ", 2));
    CG_GUARD(cg_buf_append(out, value.ptr, value.len));
    return cg_buf_append(out, "\r\n", 2);
}

const char *cg_http_reason(int status)
{
    switch (status) { /* RFC 9110 15 (and 6585, 7725 for 428, 429, 431, 451) */
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}
