/*  sb_router_tools — auto-detection of tool definitions (settings.auto_detect_tools):
    the tools a request declares are registered with first and last seen, a count,
    and a hash per definition; a changed definition becomes a new version. The hot
    path only hashes the request's `tools` text and bumps a counter in a bounded
    table; the definitions are parsed once per distinct `tools` text, and counts go
    to the logger (kind "tool_seen") once a second, where a Redis script keeps the
    registry (sb:{tools}:...).  */

#include "sb_router.h"
#include "sb_clock.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SLOTS     1024 // distinct `tools` texts tracked between flushes (bounded)
#define S_MAX_TOOLS 64   // tools per request that are registered

typedef struct {
    char name[SB_MAX_NAME + 1];
    char hash[17];    // first 8 bytes of SHA-256 of the canonical definition, hex
    char *definition; // canonical JSON, sent with the first report only
} s_tool_t;

typedef struct {
    uint64_t key; // hash of the tools text; 0 = empty slot
    uint64_t count;
    size_t tool_count;
    s_tool_t *tools;
} s_entry_t;

static s_entry_t s_table[S_SLOTS];
static uint64_t s_overflow; // requests not counted because the table was full

static uint64_t
s_fnv (const char *data, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)data[i]) * 1099511628211ULL;
    return h ? h : 1;
}

//  Parses a tools array into the entry (once per distinct text).
static void
s_parse (s_entry_t *e, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *tools = json_loadb (text, len, 0, &jerr);
    size_t n = json_array_size (tools);
    if (n > S_MAX_TOOLS) n = S_MAX_TOOLS;
    e->tools = calloc (n ? n : 1, sizeof (s_tool_t));
    for (size_t i = 0; e->tools && i < n; i++) {
        json_t *fn = json_object_get (json_array_get (tools, i), "function");
        const char *name = json_string_value (json_object_get (fn, "name"));
        if (!name) continue;
        char *canon = json_dumps (fn, JSON_COMPACT | JSON_SORT_KEYS);
        if (!canon) continue;
        unsigned char digest[32];
        SHA256 ((const unsigned char *)canon, strlen (canon), digest);
        s_tool_t *t = &e->tools[e->tool_count++];
        snprintf (t->name, sizeof t->name, "%s", name);
        for (int k = 0; k < 8; k++)
            snprintf (t->hash + 2 * k, 3, "%02x", digest[k]);
        t->definition = canon;
    }
    json_decref (tools);
}

void
sb_router_tools_seen (const char *text, size_t len)
{
    uint64_t key = s_fnv (text, len);
    size_t i = (size_t)(key % S_SLOTS);
    for (size_t probe = 0; probe < 8; probe++, i = (i + 1) % S_SLOTS) {
        s_entry_t *e = &s_table[i];
        if (e->key == key) {
            e->count++;
            return;
        }
        if (e->key == 0) {
            e->key = key;
            e->count = 1;
            s_parse (e, text, len);
            return;
        }
    }
    s_overflow++;
}

//  Once a second (router loop): one "tool_seen" event per tool with new counts.
void
sb_router_tools_flush (void)
{
    char ts[32];
    snprintf (ts, sizeof ts, "%llu", (unsigned long long)sb_wall_ms ());
    for (size_t i = 0; i < S_SLOTS; i++) {
        s_entry_t *e = &s_table[i];
        if (!e->key || !e->count) continue;
        for (size_t t = 0; t < e->tool_count; t++) {
            s_tool_t *tool = &e->tools[t];
            json_t *ev = json_pack ("{s:s,s:s,s:I,s:s}", "name", tool->name, "hash", tool->hash,
                                    "count", (json_int_t)e->count, "ts_ms", ts);
            if (tool->definition) {
                json_object_set_new (ev, "definition", json_string (tool->definition));
                free (tool->definition); // the registry has it once it has been sent
                tool->definition = NULL;
            }
            char *text = json_dumps (ev, JSON_COMPACT);
            if (text) sb_router_log ("tool_seen", tool->name, text, strlen (text));
            free (text);
            json_decref (ev);
        }
        e->count = 0;
    }
}
