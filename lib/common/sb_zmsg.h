/*  sb_zmsg — one message out on a ZeroMQ socket without blocking: encoded with the
    caller's writer, sent whole or not at all (a full queue or no peer is -1, for the
    caller to count; the data path never waits on a peer).  */

#ifndef SB_ZMSG_H_INCLUDED
#define SB_ZMSG_H_INCLUDED

#include "sb_msg.h"

int sb_zmsg_send (void *socket, sb_msg_writer_t *writer, const sb_msg_t *msg);

#endif
