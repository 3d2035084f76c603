/*  sb_mock_server — sb-mock's HTTP/1.1 server on libwebsockets: one service thread,
    keep-alive, request bodies up to a bound, and for each request a script from
    sb_mock_reply played step by step on lws timers and writeable callbacks (never
    sleeping, one lws_write per step). Also the /_mock/ control endpoints (stats, reset,
    last request) used by tests.  */

#ifndef SB_MOCK_SERVER_H_INCLUDED
#define SB_MOCK_SERVER_H_INCLUDED

#include <stddef.h>

typedef struct _sb_mock_server_t sb_mock_server_t;

typedef struct {
    const char *host; // address to listen on (default "127.0.0.1"; "0.0.0.0" = all)
    int port;         // TCP port; 0 = any free port (see sb_mock_server_port)
    int max_conns;    // concurrent connections lws accepts (default 4096)
    size_t max_body;  // larger request bodies get 413 (default 32 MiB)
    int keepalive_s;  // idle keep-alive connections are closed after this (default 60)
} sb_mock_server_config_t;

//  Fills `config` with the defaults listed above.
void sb_mock_server_config_default (sb_mock_server_config_t *config);

//  Creates the lws context and starts listening. Returns NULL (after logging to stderr)
//  when the address cannot be bound or memory runs out. Caller owns the result.
sb_mock_server_t *sb_mock_server_new (const sb_mock_server_config_t *config);
void sb_mock_server_destroy (sb_mock_server_t **self_p);

//  The port actually listened on.
int sb_mock_server_port (const sb_mock_server_t *self);

//  Serves on the calling thread until sb_mock_server_stop. Returns 0.
int sb_mock_server_run (sb_mock_server_t *self);

//  Makes sb_mock_server_run return soon. Safe from a signal handler or another thread.
void sb_mock_server_stop (sb_mock_server_t *self);

#endif
