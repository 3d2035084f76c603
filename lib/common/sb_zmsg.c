/*  sb_zmsg — see sb_zmsg.h.  */

#include "sb_zmsg.h"

#include <zmq.h>

int
sb_zmsg_send (void *socket, sb_msg_writer_t *writer, const sb_msg_t *msg)
{
    const void *data;
    size_t size;
    if (!socket || sb_msg_encode (writer, msg, &data, &size) != 0) return -1;
    return zmq_send (socket, data, size, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}
