#include "core/base64.h"

#include <ctype.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int cg_base64_decode(struct cg_slice text, struct cg_buf *out)
{
    size_t start = out->len;
    uint8_t quad[4];
    size_t q = 0;
    bool ended = false; /* padding seen: only whitespace may follow */
    for (size_t i = 0; i < text.len; i++) {
        uint8_t c = text.ptr[i];
        if (isspace(c)) continue;
        if (ended) goto bad;
        quad[q++] = c;
        if (q < 4) continue;
        q = 0;
        int v0 = value(quad[0]), v1 = value(quad[1]);
        if (v0 < 0 || v1 < 0) goto bad;
        uint8_t bytes[3];
        size_t n;
        bytes[0] = (uint8_t)((v0 << 2) | (v1 >> 4));
        if (quad[2] == '=') {
            if (quad[3] != '=' || (v1 & 15)) goto bad;
            n = 1;
            ended = true;
        } else {
            int v2 = value(quad[2]);
            if (v2 < 0) goto bad;
            bytes[1] = (uint8_t)(((v1 & 15) << 4) | (v2 >> 2));
            if (quad[3] == '=') {
                if (v2 & 3) goto bad;
                n = 2;
                ended = true;
            } else {
                int v3 = value(quad[3]);
                if (v3 < 0) goto bad;
                bytes[2] = (uint8_t)(((v2 & 3) << 6) | v3);
                n = 3;
            }
        }
        int rc = cg_buf_append(out, bytes, n);
        if (rc < 0) {
            out->len = start;
            return rc;
        }
    }
    if (q != 0) goto bad;
    return 0;
bad:
    out->len = start;
    if (out->ptr) out->ptr[start] = 0;
    return CG_EPROTO;
}

bool cg_base64_looks_like(struct cg_slice text)
{
    size_t chars = 0;
    for (size_t i = 0; i < text.len; i++) {
        uint8_t c = text.ptr[i];
        if (isspace(c)) continue;
        if (value(c) < 0 && c != '=') return false;
        chars++;
    }
    return chars > 0;
}

int cg_base64_encode(struct cg_slice data, struct cg_buf *out)
{
    CG_GUARD(cg_buf_reserve(out, (data.len + 2) / 3 * 4));
    for (size_t i = 0; i < data.len; i += 3) {
        uint32_t v = (uint32_t)data.ptr[i] << 16;
        size_t n = data.len - i;
        if (n > 1) v |= (uint32_t)data.ptr[i + 1] << 8;
        if (n > 2) v |= data.ptr[i + 2];
        char o[4] = {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63],
                     n > 1 ? alphabet[(v >> 6) & 63] : '=', n > 2 ? alphabet[v & 63] : '='};
        CG_GUARD(cg_buf_append(out, o, 4));
    }
    return 0;
}
