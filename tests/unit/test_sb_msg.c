/*  test_sb_msg — every message round-trips through the codec; garbage, truncation,
    wrong types, unknown versions and oversize fields are rejected.  */

#include "sb_msg.h"
#include "sb_test.h"

#include <msgpack.h>
#include <stdlib.h>

static int
s_bytes_eq (sb_bytes_t a, const char *s)
{
    return a.size == strlen (s) && (a.size == 0 || memcmp (a.data, s, a.size) == 0);
}

static void
test_roundtrip_all (sb_msg_writer_t *w)
{
    for (int type = 1; type < SB_MSG_MAX; type++) {
        sb_msg_t in;
        memset (&in, 0, sizeof in);
        in.type = (sb_msg_type_t)type;
        //  Fill the first u64 field of each message through the chat/chunk views:
        //  all structs start with a u64 or a str, so set per type explicitly.
        switch (in.type) {
            case SB_MSG_CHAT:
                in.chat.id = 0x1234567890ULL;
                in.chat.key_name = sb_bytes_str ("demo");
                in.chat.group = sb_bytes_str ("production");
                in.chat.model = sb_bytes_str ("gpt-4o");
                in.chat.stream = true;
                in.chat.include_usage = true;
                in.chat.body = sb_bytes ("{\"model\":\"gpt-4o\"}\0x", 20);
                in.chat.deadline_ms = 1700000000000ULL;
                in.chat.trace_id = sb_bytes_str ("req-1");
                in.chat.received_us = 42;
                in.chat.tools_at = 7;
                in.chat.tools_len = 11;
                break;
            case SB_MSG_END:
                in.end.id = 7;
                in.end.status = 502;
                in.end.body = sb_bytes_str ("{\"error\":{}}");
                in.end.headers = sb_bytes_str ("Retry-After: 3\r\n");
                in.end.channel = sb_bytes_str ("openai-primary");
                in.end.attempts = 3;
                in.end.prompt_tokens = 11;
                in.end.completion_tokens = 22;
                in.end.error = sb_bytes_str ("upstream 500");
                break;
            case SB_MSG_CHUNK:
                in.chunk.id = UINT64_MAX;
                in.chunk.seq = 9;
                in.chunk.data = sb_bytes_str ("data: {}\n\n");
                break;
            default:
                break;
        }
        const void *data;
        size_t size;
        CHECK (sb_msg_encode (w, &in, &data, &size) == 0);
        sb_msg_t out;
        const char *why = NULL;
        int rc = sb_msg_decode (data, size, &out, &why);
        CHECK (rc == 0);
        if (rc != 0) {
            fprintf (stderr, "type %d: %s\n", type, why);
            continue;
        }
        CHECK (out.type == in.type);
        CHECK_STR (sb_msg_type_name (out.type), sb_msg_type_name (in.type));
        if (in.type == SB_MSG_CHAT) {
            CHECK (out.chat.id == in.chat.id);
            CHECK (s_bytes_eq (out.chat.key_name, "demo"));
            CHECK (s_bytes_eq (out.chat.model, "gpt-4o"));
            CHECK (out.chat.stream && out.chat.include_usage);
            CHECK (out.chat.body.size == 20 &&
                   memcmp (out.chat.body.data, in.chat.body.data, 20) == 0);
            //  zero-copy: the body points into the frame
            CHECK (out.chat.body.data >= (const char *)data &&
                   out.chat.body.data < (const char *)data + size);
            CHECK (out.chat.deadline_ms == 1700000000000ULL);
            CHECK (out.chat.received_us == 42);
            CHECK (out.chat.tools_at == 7 && out.chat.tools_len == 11);
        }
        if (in.type == SB_MSG_END) {
            CHECK (out.end.status == 502 && out.end.attempts == 3);
            CHECK (out.end.prompt_tokens == 11 && out.end.completion_tokens == 22);
            CHECK (s_bytes_eq (out.end.channel, "openai-primary"));
            CHECK (s_bytes_eq (out.end.headers, "Retry-After: 3\r\n"));
            CHECK (s_bytes_eq (out.end.error, "upstream 500"));
        }
        if (in.type == SB_MSG_CHUNK) {
            CHECK (out.chunk.id == UINT64_MAX && out.chunk.seq == 9);
            CHECK (s_bytes_eq (out.chunk.data, "data: {}\n\n"));
        }
    }
}

static void
test_rejects (sb_msg_writer_t *w)
{
    sb_msg_t out;
    const char *why;
    uint64_t before = sb_msg_decode_errors ();

    CHECK (sb_msg_decode ("", 0, &out, &why) == -1);
    CHECK (sb_msg_decode ("\xc1", 1, &out, &why) == -1); // never-used msgpack byte
    CHECK (sb_msg_decode ("hello world", 11, &out, &why) == -1);

    //  Truncated at every length.
    sb_msg_t in;
    memset (&in, 0, sizeof in);
    in.type = SB_MSG_CHUNK;
    in.chunk.id = 1;
    in.chunk.data = sb_bytes_str ("abcdef");
    const void *data;
    size_t size;
    CHECK (sb_msg_encode (w, &in, &data, &size) == 0);
    char copy[64];
    memcpy (copy, data, size);
    int all_rejected = 1;
    for (size_t n = 0; n < size; n++)
        if (sb_msg_decode (copy, n, &out, &why) == 0) all_rejected = 0;
    CHECK (all_rejected);
    CHECK (sb_msg_decode (copy, size, &out, &why) == 0);

    //  Hand-built frames: unknown version, unknown type, wrong type, wrong count.
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sb);
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);

    msgpack_pack_array (&pk, 5);
    msgpack_pack_uint32 (&pk, 99); // version
    msgpack_pack_uint32 (&pk, SB_MSG_CHUNK);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, 0);
    msgpack_pack_bin_with_body (&pk, "x", 1);
    CHECK (sb_msg_decode (sb.data, sb.size, &out, &why) == -1);
    CHECK_STR (why, "unknown protocol version");

    msgpack_sbuffer_clear (&sb);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_uint32 (&pk, SB_PROTO_VERSION);
    msgpack_pack_uint32 (&pk, 200);
    CHECK (sb_msg_decode (sb.data, sb.size, &out, &why) == -1);
    CHECK_STR (why, "unknown message type");

    msgpack_sbuffer_clear (&sb);
    msgpack_pack_array (&pk, 5);
    msgpack_pack_uint32 (&pk, SB_PROTO_VERSION);
    msgpack_pack_uint32 (&pk, SB_MSG_CHUNK);
    msgpack_pack_str_with_body (&pk, "1", 1); // id must be u64
    msgpack_pack_uint64 (&pk, 0);
    msgpack_pack_bin_with_body (&pk, "x", 1);
    CHECK (sb_msg_decode (sb.data, sb.size, &out, &why) == -1);
    CHECK_STR (why, "field is not an unsigned integer");

    msgpack_sbuffer_clear (&sb);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint32 (&pk, SB_PROTO_VERSION);
    msgpack_pack_uint32 (&pk, SB_MSG_CHUNK);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, 0);
    CHECK (sb_msg_decode (sb.data, sb.size, &out, &why) == -1);
    CHECK_STR (why, "wrong field count");

    //  A frame that declares a huge nested array is refused before msgpack-c would
    //  allocate room for it.
    const unsigned char bomb[] = {0x93, 0x01, 0x02, 0xdd, 0x7f, 0xff, 0xff, 0xff};
    CHECK (sb_msg_decode (bomb, sizeof bomb, &out, &why) == -1);
    CHECK_STR (why, "not a flat message array");
    const unsigned char map_bomb[] = {0x92, 0x01, 0xdf, 0x7f, 0xff, 0xff, 0xff};
    CHECK (sb_msg_decode (map_bomb, sizeof map_bomb, &out, &why) == -1);
    const unsigned char long_str[] = {0x93, 0x01, 0x02, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'};
    CHECK (sb_msg_decode (long_str, sizeof long_str, &out, &why) == -1);

    //  Oversize name field.
    msgpack_sbuffer_clear (&sb);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint32 (&pk, SB_PROTO_VERSION);
    msgpack_pack_uint32 (&pk, SB_MSG_READY);
    char big[SB_MAX_NAME + 1];
    memset (big, 'a', sizeof big);
    msgpack_pack_str_with_body (&pk, big, sizeof big);
    msgpack_pack_uint64 (&pk, 1);
    CHECK (sb_msg_decode (sb.data, sb.size, &out, &why) == -1);
    CHECK_STR (why, "field over its maximum size");
    msgpack_sbuffer_destroy (&sb);

    //  ...and the encoder refuses to produce one.
    memset (&in, 0, sizeof in);
    in.type = SB_MSG_READY;
    in.ready.instance = sb_bytes (big, sizeof big);
    CHECK (sb_msg_encode (w, &in, &data, &size) == -1);

    CHECK (sb_msg_decode_errors () > before);
}

int
main (void)
{
    sb_msg_writer_t *w = sb_msg_writer_new ();
    CHECK (w);
    test_roundtrip_all (w);
    test_rejects (w);
    sb_msg_writer_destroy (&w);
    CHECK (w == NULL);
    sb_msg_writer_destroy (&w);
    return SB_TEST_DONE ();
}
