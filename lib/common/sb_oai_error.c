/*  sb_oai_error — error bodies in the shape OpenAI's SDKs parse.  */

#include "sb_oai_error.h"

#include <stdio.h>
#include <string.h>

const char *
sb_oai_error_type (int status)
{
    switch (status) {
        case 400:
            return "invalid_request_error";
        case 401:
            return "authentication_error";
        case 403:
            return "permission_error";
        case 404:
            return "not_found_error";
        case 405:
            return "invalid_request_error";
        case 408:
            return "timeout_error";
        case 413:
            return "invalid_request_error";
        case 429:
            return "rate_limit_error";
        case 502:
            return "upstream_error";
        case 503:
            return "service_unavailable_error";
        case 504:
            return "timeout_error";
        default:
            return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

int
sb_json_escape_append (char *buf, size_t size, size_t *len, const char *text, size_t text_len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = *len;
    for (size_t i = 0; i < text_len; i++) {
        //  A run that needs no escaping is copied whole.
        size_t run = i;
        while (run < text_len && (unsigned char)text[run] >= 0x20 && text[run] != '"' &&
               text[run] != '\\')
            run++;
        if (run > i) {
            size_t k = run - i;
            if (n + k >= size) k = size > n + 1 ? size - n - 1 : 0;
            memcpy (buf + n, text + i, k);
            n += k;
            if (i + k < run) {
                *len = n;
                return -1;
            }
            i = run;
            if (i == text_len) break;
        }
        unsigned char c = (unsigned char)text[i];
        char esc[7];
        size_t k = 0;
        if (c == '"' || c == '\\')
            esc[0] = '\\', esc[1] = (char)c, k = 2;
        else if (c == '\n')
            esc[0] = '\\', esc[1] = 'n', k = 2;
        else if (c == '\r')
            esc[0] = '\\', esc[1] = 'r', k = 2;
        else if (c == '\t')
            esc[0] = '\\', esc[1] = 't', k = 2;
        else if (c < 0x20)
            memcpy (esc, "\\u00", 4), esc[4] = hex[c >> 4], esc[5] = hex[c & 15], k = 6;
        else
            esc[0] = (char)c, k = 1;
        if (n + k >= size) {
            *len = n;
            return -1;
        }
        memcpy (buf + n, esc, k);
        n += k;
    }
    *len = n;
    return 0;
}

size_t
sb_oai_error_body (char *buf, size_t size, int status, const char *message, const char *type,
                   const char *code)
{
    //  Reserve room for the fixed parts so truncating the message keeps valid JSON.
    char tail[256];
    int tn = snprintf (tail, sizeof tail, "\",\"type\":\"%s\",\"code\":%s%s%s}}",
                       type ? type : sb_oai_error_type (status), code ? "\"" : "",
                       code ? code : "null", code ? "\"" : "");
    if (tn < 0 || (size_t)tn >= sizeof tail || size < (size_t)tn + 32) {
        if (size) buf[0] = '\0';
        return 0;
    }
    size_t len = 0;
    const char *head = "{\"error\":{\"message\":\"";
    memcpy (buf, head, strlen (head));
    len = strlen (head);
    //  Stop before a multi-byte UTF-8 sequence could be cut (escape works bytewise;
    //  the limit leaves the tail's room).
    size_t limit = size - (size_t)tn - 1;
    sb_json_escape_append (buf, limit, &len, message ? message : "",
                           message ? strlen (message) : 0);
    while (len > 0 && ((unsigned char)buf[len - 1] & 0xc0) == 0x80)
        len--; // don't leave a dangling continuation run...
    if (len > 0 && ((unsigned char)buf[len - 1] & 0xc0) == 0xc0) len--; // ...or its lead byte
    memcpy (buf + len, tail, (size_t)tn + 1);
    return len + (size_t)tn;
}
