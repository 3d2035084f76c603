/*  sb_ingress_main — starts the ingress: settings from the environment, the config
    snapshot, the lws context (HTTP on SB_HTTP_PORT), the router link, and the
    service loop that drains ZeroMQ after every lws round.  */

#include "sb_ingress.h"
#include "sb_clock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sb_ingress_t sb_ingress;

static volatile sig_atomic_t s_interrupted;
static lws_sorted_usec_list_t s_tick_sul;

static void
s_on_signal (int sig)
{
    s_interrupted = 1;
    if (sb_ingress.context) lws_cancel_service (sb_ingress.context);
}

//  Reads a positive integer setting; a malformed value is a start-up error.
static int
s_env_uint (const char *name, unsigned long long fallback, unsigned long long max,
            unsigned long long *out)
{
    const char *v = getenv (name);
    if (!v || !*v) {
        *out = fallback;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull (v, &end, 10);
    if (errno || *end || n == 0 || n > max) {
        fprintf (stderr, "ingress: %s=%s is not a number from 1 to %llu\n", name, v, max);
        return -1;
    }
    *out = n;
    return 0;
}

static const char *
s_env (const char *name, const char *fallback)
{
    const char *v = getenv (name);
    return v && *v ? v : fallback;
}

static void
s_tick (lws_sorted_usec_list_t *sul)
{
    sb_ingress_link_tick ();
    sb_ingress_link_kick (); // the heartbeat was a send
    lws_sul_schedule (sb_ingress.context, 0, &s_tick_sul, s_tick, LWS_US_PER_SEC);
}

static const struct lws_protocols s_protocols[] = {
    {"http", sb_ingress_http_callback, 0, 0, 0, NULL, 0},
    {"sb-router-link", sb_ingress_link_callback, 0, 0, 0, NULL, 0},
    {"sb-config", sb_ingress_config_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int
main (int argc, char **argv)
{
    sb_ingress_t *self = &sb_ingress;
    unsigned long long port, max_body, max_header, max_buffer, max_inflight, ping_ms;
    if (s_env_uint ("SB_HTTP_PORT", 8080, 65535, &port) ||
        s_env_uint ("SB_MAX_BODY_BYTES", 10u << 20, 1ull << 30, &max_body) ||
        s_env_uint ("SB_MAX_HEADER_BYTES", 8192, 65535, &max_header) ||
        s_env_uint ("SB_MAX_CLIENT_BUFFER", 8u << 20, 1ull << 30, &max_buffer) ||
        s_env_uint ("SB_MAX_INFLIGHT", 16384, 1u << 20, &max_inflight) ||
        s_env_uint ("SB_SSE_PING_MS", 15000, 3600000, &ping_ms))
        return 1;
    //  lws keeps the limit in an unsigned short; under 1 KiB ordinary requests fail.
    if (max_header < 1024) {
        fprintf (stderr, "ingress: SB_MAX_HEADER_BYTES=%llu is below 1024\n", max_header);
        return 1;
    }
    self->settings.http_port = (int)port;
    self->settings.max_body = max_body;
    self->settings.max_header = (uint32_t)max_header;
    self->settings.max_client_buffer = max_buffer;
    self->settings.max_inflight = (uint32_t)max_inflight;
    self->settings.ping_ms = (uint32_t)ping_ms;
    self->settings.router_endpoint = s_env ("SB_ROUTER_ENDPOINT", "tcp://127.0.0.1:5555");
    self->settings.config_path = s_env ("SB_CONFIG", "config/demo.json");

    char err[512];
    self->config = sb_config_load_file (self->settings.config_path, err, sizeof err);
    if (!self->config) {
        fprintf (stderr, "ingress: config: %s\n", err);
        return 1;
    }

    self->slots = calloc (max_inflight, sizeof (sb_conn_t *));
    self->generations = calloc (max_inflight, sizeof (uint32_t));
    self->free_list = calloc (max_inflight, sizeof (uint32_t));
    self->writer = sb_msg_writer_new ();
    if (!self->slots || !self->generations || !self->free_list || !self->writer) return 1;
    for (uint32_t i = 0; i < max_inflight; i++)
        self->free_list[i] = (uint32_t)(max_inflight - 1 - i);
    self->free_count = (uint32_t)max_inflight;

    //  Debian's lws has debug logging compiled in; each filtered call still costs:
    //  errors and warnings only (and the emitter answers 431, sb_ingress_http.c).
    sb_ingress_http_log_start ();
    struct lws_protocols protocols[4];
    memcpy (protocols, s_protocols, sizeof protocols);
    protocols[0].per_session_data_size = sb_ingress_conn_size ();

    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.port = self->settings.http_port;
    info.iface = s_env ("SB_HTTP_HOST", NULL);
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    //  lws 4.1 looks an interface address up as IPv6 when IPv6 is on, fails for an
    //  IPv4 address and quietly binds every interface: an IPv4 host needs IPv6 off.
    if (info.iface && strchr (info.iface, '.') && !strchr (info.iface, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.vhost_name = "switchboard";
    //  A request whose line and headers overflow this gets 431 (sb_ingress_http.c).
    info.max_http_header_data = (unsigned short)self->settings.max_header;
    info.max_http_header_pool = 1024;
    info.timeout_secs = 30;
    info.keepalive_timeout = 60;
    info.fd_limit_per_thread = 0;
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    signal (SIGPIPE, SIG_IGN);

    self->context = lws_create_context (&info);
    if (!self->context) {
        fprintf (stderr, "ingress: cannot create the lws context\n");
        return 1;
    }
    self->vhost = lws_create_vhost (self->context, &info);
    if (!self->vhost) {
        fprintf (stderr, "ingress: cannot listen on port %d\n", self->settings.http_port);
        lws_context_destroy (self->context);
        return 1;
    }
    if (sb_ingress_link_start () != 0) {
        fprintf (stderr, "ingress: cannot start the router link\n");
        lws_context_destroy (self->context);
        return 1;
    }
    lws_sul_schedule (self->context, 0, &s_tick_sul, s_tick, 1);
    printf ("ingress: listening on http://%s:%d (router %s)\n", info.iface ? info.iface : "0.0.0.0",
            self->settings.http_port, self->settings.router_endpoint);
    fflush (stdout);

    while (!s_interrupted) {
        if (lws_service (self->context, 0) < 0) break;
        sb_ingress_http_round_done ();
        sb_ingress_link_drain ();
    }
    lws_sul_cancel (&s_tick_sul);
    lws_context_destroy (self->context);
    sb_ingress_link_stop ();
    sb_config_destroy (&self->config);
    sb_msg_writer_destroy (&self->writer);
    free (self->slots);
    free (self->generations);
    free (self->free_list);
    return 0;
}
