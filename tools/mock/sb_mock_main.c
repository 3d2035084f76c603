/*  sb-mock — a mock LLM provider (OpenAI chat completions and Anthropic Messages) whose
    behaviour is set per request by knobs, for Switchboard's tests, benchmark and demo.
    Usage: sb-mock [--host 127.0.0.1] [--port 9090] [--max-conns 4096]
                   [--max-body BYTES]; SB_MOCK_PORT sets the port too (the flag wins).
    Prints "sb-mock listening on http://HOST:PORT" once it accepts connections.  */

#include "sb_mock_server.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sb_mock_server_t *s_server;

static void
s_on_signal (int sig)
{
    (void)sig;
    if (s_server) sb_mock_server_stop (s_server);
}

//  Parses a decimal integer within [min, max]. 0 or -1.
static int
s_number (const char *text, long long min, long long max, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long n = strtoll (text, &end, 10);
    if (errno || end == text || *end || n < min || n > max) return -1;
    *out = n;
    return 0;
}

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: sb-mock [--host ADDR] [--port PORT] [--max-conns N] [--max-body BYTES]\n"
                  "  --host       address to listen on (default 127.0.0.1)\n"
                  "  --port       TCP port, 0 = any free one (default $SB_MOCK_PORT or 9090)\n"
                  "  --max-conns  concurrent connections (default 4096)\n"
                  "  --max-body   request bodies above this get 413 (default 33554432)\n"
                  "Knobs and endpoints: docs/mock-provider.md\n");
}

int
main (int argc, char **argv)
{
    sb_mock_server_config_t config;
    sb_mock_server_config_default (&config);
    long long n = 0;

    const char *env_port = getenv ("SB_MOCK_PORT");
    if (env_port && *env_port) {
        if (s_number (env_port, 0, 65535, &n)) {
            fprintf (stderr, "sb-mock: SB_MOCK_PORT must be a port number\n");
            return 2;
        }
        config.port = (int)n;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp (arg, "-h") == 0 || strcmp (arg, "--help") == 0) {
            s_usage (stdout);
            return 0;
        }
        if (!value) {
            s_usage (stderr);
            return 2;
        }
        i++;
        if (strcmp (arg, "--host") == 0)
            config.host = value;
        else if (strcmp (arg, "--port") == 0 && !s_number (value, 0, 65535, &n))
            config.port = (int)n;
        else if (strcmp (arg, "--max-conns") == 0 && !s_number (value, 1, 1000000, &n))
            config.max_conns = (int)n;
        else if (strcmp (arg, "--max-body") == 0 && !s_number (value, 1, LLONG_MAX, &n))
            config.max_body = (size_t)n;
        else {
            fprintf (stderr, "sb-mock: bad option or value: %s %s\n", arg, value);
            s_usage (stderr);
            return 2;
        }
    }

    s_server = sb_mock_server_new (&config);
    if (!s_server) return 1;
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    printf ("sb-mock listening on http://%s:%d\n", config.host, sb_mock_server_port (s_server));
    fflush (stdout);
    sb_mock_server_run (s_server);
    sb_mock_server_destroy (&s_server);
    return 0;
}
