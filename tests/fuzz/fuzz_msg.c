/*  fuzz_msg — the message decoder on arbitrary bytes: never crashes, never reads
    outside the frame; whatever decodes re-encodes and decodes to the same type. */

#include "sb_msg.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static sb_msg_writer_t *writer;
    if (!writer) writer = sb_msg_writer_new ();
    //  Copy into an exact-size heap block so ASan catches any over-read.
    uint8_t *frame = malloc (size ? size : 1);
    if (!frame) return 0;
    if (size) memcpy (frame, data, size);
    sb_msg_t msg;
    if (sb_msg_decode (frame, size, &msg, NULL) == 0) {
        const void *out;
        size_t out_size;
        if (sb_msg_encode (writer, &msg, &out, &out_size) != 0) abort ();
        sb_msg_t again;
        if (sb_msg_decode (out, out_size, &again, NULL) != 0 || again.type != msg.type) abort ();
    }
    free (frame);
    return 0;
}
