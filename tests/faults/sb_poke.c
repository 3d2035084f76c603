/*  sb_poke — test helper: connects a ZeroMQ socket of the given kind to an
    endpoint and sends N malformed frames (random bytes, truncated and
    wrong-version messages, extra frames), to check that services count and
    drop them.   sb_poke dealer|push ENDPOINT N  */

#include "sb_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

int
main (int argc, char **argv)
{
    if (argc != 4) return 2;
    int type = strcmp (argv[1], "push") == 0 ? ZMQ_PUSH : ZMQ_DEALER;
    long n = strtol (argv[3], NULL, 10);
    void *ctx = zmq_ctx_new ();
    void *sock = zmq_socket (ctx, type);
    int linger = 2000;
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect (sock, argv[2]) != 0) return 1;
    usleep (200000);
    sb_msg_writer_t *w = sb_msg_writer_new ();
    sb_msg_t msg = {.type = SB_MSG_CHUNK};
    msg.chunk.id = 1;
    msg.chunk.data = sb_bytes_str ("data: {}\n\n");
    const void *good;
    size_t good_len;
    sb_msg_encode (w, &msg, &good, &good_len);
    unsigned char buf[256];
    unsigned int seed = 42;
    for (long i = 0; i < n; i++) {
        size_t len = (size_t)(rand_r (&seed) % sizeof buf);
        switch (i % 4) {
            case 0: // random bytes
                for (size_t k = 0; k < len; k++)
                    buf[k] = (unsigned char)rand_r (&seed);
                zmq_send (sock, buf, len, 0);
                break;
            case 1: // a valid frame cut short
                zmq_send (sock, good, good_len / 2, 0);
                break;
            case 2: // a valid message of the wrong kind for the socket, plus an extra frame
                zmq_send (sock, good, good_len, ZMQ_SNDMORE);
                zmq_send (sock, "x", 1, 0);
                break;
            default: // wrong version byte
                memcpy (buf, good, good_len);
                buf[1] = 0x7f;
                zmq_send (sock, buf, good_len, 0);
                break;
        }
    }
    sb_msg_writer_destroy (&w);
    zmq_close (sock);
    zmq_ctx_term (ctx);
    printf ("sent %ld malformed frames to %s\n", n, argv[2]);
    return 0;
}
