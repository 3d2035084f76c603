/*  sb_mock_json — a small JSON text writer for sb-mock's replies. It takes jansson's
    json_pack format language (a subset) but appends text directly, without building
    a tree: building and dumping jansson trees cost more than everything else per
    request (jansson's dump formats a loop-detection key per container). The nesting
    state lives in the writer, so one document may be written by several calls, e.g.
    a helper writing one member's value. Bounded: appends fail past `max` bytes.  */

#ifndef SB_MOCK_JSON_H_INCLUDED
#define SB_MOCK_JSON_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_MOCK_JSON_DEPTH 16

//  Invariants: data is NULL or holds len + 1 bytes with data[len] == '\0'; len <= max;
//  depth <= SB_MOCK_JSON_DEPTH; once failed is set, nothing more is appended.
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
    bool failed;                         // out of memory, over max, or bad format
    int depth;                           // open containers
    char kind[SB_MOCK_JSON_DEPTH];       // '{' or '[' per open container
    unsigned count[SB_MOCK_JSON_DEPTH];  // members or items written so far
    bool want_value[SB_MOCK_JSON_DEPTH]; // object: a key was written, its value is next
} sb_mock_json_t;

//  An empty writer that will hold at most `max` bytes of text.
void sb_mock_json_init (sb_mock_json_t *self, size_t max);
//  Frees the text; the writer is empty (as after init, same max).
void sb_mock_json_release (sb_mock_json_t *self);
//  Empties the text and the nesting state, keeping the memory.
void sb_mock_json_clear (sb_mock_json_t *self);

//  Appends per `fmt`, with json_pack's meaning: { } [ ] open and close; s string
//  (const char *, NUL-terminated), s% string with length (const char *, size_t), s?
//  string or null when NULL; i int; I int64_t; b bool (int); n null; r raw JSON text
//  written as is (const char *), r% raw text with length. Spaces, ':' and ',' are
//  ignored: separators are written where they belong. In an object, strings alternate
//  between key and value. Returns 0, or -1 (and sets failed) when the text would
//  exceed max, memory runs out or fmt is malformed.
int sb_mock_json_pack (sb_mock_json_t *self, const char *fmt, ...);

//  Appends `len` bytes of `text` as a JSON string body (no quotes), escaped; bytes that
//  are not valid UTF-8 become U+FFFD. 0 or -1.
int sb_mock_json_escape (sb_mock_json_t *self, const char *text, size_t len);

#endif
