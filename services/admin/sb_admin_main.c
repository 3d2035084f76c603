/*  sb_admin_main — starts admin: settings from the environment, the SQLite store
    (seeded from SB_CONFIG on the first start only), the admin token, the Clone
    sockets, and the lws loop that serves HTTP, answers snapshot requests and
    republishes the config every second.  */

#include "sb_admin_api.h"
#include "sb_admin_auth.h"
#include "sb_admin_clone.h"
#include "sb_admin_http.h"
#include "sb_admin_store.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

typedef struct {
    unsigned long long port;
    const char *host;
    const char *data_dir;
    char db_path[4096];
    char token_path[4096];
    const char *seed_path;
    bool seed_explicit; // SB_CONFIG was set: a missing file is an error
    const char *pub_bind;
    const char *snapshot_bind;
} s_settings_t;

static volatile sig_atomic_t s_interrupted;
static struct lws_context *s_context;
static sb_admin_http_ctx_t s_http;
static lws_sorted_usec_list_t s_tick_sul;

static void
s_on_signal (int sig)
{
    s_interrupted = 1;
    if (s_context) lws_cancel_service (s_context);
}

static const char *
s_env (const char *name, const char *fallback)
{
    const char *v = getenv (name);
    return v && *v ? v : fallback;
}

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
        fprintf (stderr, "admin: %s=%s is not a number from 1 to %llu\n", name, v, max);
        return -1;
    }
    *out = n;
    return 0;
}

static int
s_path (char *buf, size_t size, const char *dir, const char *file)
{
    int n = snprintf (buf, size, "%s/%s", dir, file);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

static int
s_load_settings (s_settings_t *s)
{
    if (s_env_uint ("SB_ADMIN_PORT", 8081, 65535, &s->port)) return -1;
    s->host = s_env ("SB_ADMIN_HOST", NULL);
    s->data_dir = s_env ("SB_DATA_DIR", "./data");
    s->seed_explicit = s_env ("SB_CONFIG", NULL) != NULL;
    s->seed_path = s_env ("SB_CONFIG", "config/demo.json");
    s->pub_bind = s_env ("SB_ADMIN_PUB_BIND", "tcp://127.0.0.1:5560");
    s->snapshot_bind = s_env ("SB_ADMIN_SNAPSHOT_BIND", "tcp://127.0.0.1:5561");
    const char *db = s_env ("SB_DB_PATH", NULL);
    if ((db ? snprintf (s->db_path, sizeof s->db_path, "%s", db) >= (int)sizeof s->db_path
            : s_path (s->db_path, sizeof s->db_path, s->data_dir, "switchboard.db") != 0) ||
        s_path (s->token_path, sizeof s->token_path, s->data_dir, "admin.token")) {
        fprintf (stderr, "admin: data paths are too long\n");
        return -1;
    }
    //  The data dir holds secrets (provider keys in the store, the admin token).
    if (mkdir (s->data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf (stderr, "admin: cannot create %s: %s\n", s->data_dir, strerror (errno));
        return -1;
    }
    return 0;
}

//  First start only: the seed file, or an empty config when the default seed
//  file is absent.
static int
s_seed (sb_admin_api_t *api, const s_settings_t *s)
{
    json_error_t jerr;
    json_t *seed = NULL;
    if (access (s->seed_path, F_OK) == 0 || s->seed_explicit) {
        seed = json_load_file (s->seed_path, JSON_REJECT_DUPLICATES, &jerr);
        if (!seed) {
            fprintf (stderr, "admin: seed %s: %s (line %d)\n", s->seed_path, jerr.text, jerr.line);
            return -1;
        }
    }
    char err[1024];
    int rc = sb_admin_api_seed (api, seed, err, sizeof err);
    if (rc)
        fprintf (stderr, "admin: seed %s: %s\n", seed ? s->seed_path : "(empty)", err);
    else
        printf ("admin: first start: store seeded from %s\n", seed ? s->seed_path : "nothing");
    json_decref (seed);
    return rc;
}

static void
s_publish (void *arg, uint64_t seq, const char *json, size_t len)
{
    if (sb_admin_clone_set (arg, seq, json, len))
        fprintf (stderr, "admin: config %llu could not be published (%zu bytes)\n",
                 (unsigned long long)seq, len);
}

static void
s_tick (lws_sorted_usec_list_t *sul)
{
    sb_admin_clone_republish (s_http.clone);
    sb_admin_clone_drain (s_http.clone);
    lws_sul_schedule (s_context, 0, &s_tick_sul, s_tick, LWS_US_PER_SEC);
}

int
main (int argc, char **argv)
{
    //  Everything admin creates (store, WAL, token) is for its own user only.
    umask (077);
    s_settings_t settings;
    memset (&settings, 0, sizeof settings);
    if (s_load_settings (&settings)) return 1;

    int rc = 1;
    void *zmq_ctx = NULL;
    sb_admin_store_t *store = NULL;
    sb_admin_api_t *api = NULL;
    char err[1024];

    store = sb_admin_store_new (settings.db_path, err, sizeof err);
    if (!store) {
        fprintf (stderr, "admin: store: %s\n", err);
        goto cleanup;
    }
    char generated[128];
    s_http.auth = sb_admin_auth_new (getenv ("SB_ADMIN_TOKEN"), settings.token_path, generated,
                                     sizeof generated, err, sizeof err);
    if (!s_http.auth) {
        fprintf (stderr, "admin: token: %s\n", err);
        goto cleanup;
    }
    if (generated[0]) {
        //  Shown this once; afterwards it is only in the 0600 file.
        printf ("admin: generated admin token (saved in %s, mode 0600): %s\n", settings.token_path,
                generated);
        OPENSSL_cleanse (generated, sizeof generated);
    }
    zmq_ctx = zmq_ctx_new ();
    s_http.clone =
        sb_admin_clone_new (zmq_ctx, settings.pub_bind, settings.snapshot_bind, err, sizeof err);
    if (!s_http.clone) {
        fprintf (stderr, "admin: clone: %s\n", err);
        goto cleanup;
    }
    api = sb_admin_api_new (store, s_publish, s_http.clone);
    s_http.api = api;
    if (!api) goto cleanup;
    if (!sb_admin_store_initialized (store) && s_seed (api, &settings)) goto cleanup;
    if (sb_admin_api_publish_current (api)) {
        fprintf (stderr, "admin: store: %s\n", sb_admin_store_error (store));
        goto cleanup;
    }

    //  Debian's lws has debug logging compiled in; each filtered call still costs.
    lws_set_log_level (LLL_ERR | LLL_WARN, NULL);
    struct lws_protocols protocols[] = {
        {"http", sb_admin_http_callback, sb_admin_http_conn_size (), 0, 0, &s_http, 0},
        {"sb-admin-clone", sb_admin_http_clone_callback, 0, 0, 0, &s_http, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.port = (int)settings.port;
    info.iface = settings.host;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.vhost_name = "switchboard-admin";
    info.max_http_header_data = 8192;
    info.max_http_header_pool = 64;
    info.timeout_secs = 30;
    info.keepalive_timeout = 60;
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    signal (SIGPIPE, SIG_IGN);
    s_context = lws_create_context (&info);
    struct lws_vhost *vhost = s_context ? lws_create_vhost (s_context, &info) : NULL;
    if (!vhost) {
        fprintf (stderr, "admin: cannot listen on port %llu\n", settings.port);
        goto cleanup;
    }
    //  lws closes what it adopts; ZeroMQ owns ZMQ_FD, so lws gets a duplicate.
    lws_sock_file_fd_type desc;
    desc.filefd = dup (sb_admin_clone_fd (s_http.clone));
    if (desc.filefd < 0 || !lws_adopt_descriptor_vhost (vhost, LWS_ADOPT_RAW_FILE_DESC, desc,
                                                        "sb-admin-clone", NULL)) {
        fprintf (stderr, "admin: cannot watch the snapshot socket\n");
        if (desc.filefd >= 0) close (desc.filefd);
        goto cleanup;
    }
    lws_sul_schedule (s_context, 0, &s_tick_sul, s_tick, LWS_US_PER_SEC);
    printf ("admin: http on %s:%llu, config seq %llu, store %s, updates on %s, snapshots on %s\n",
            settings.host ? settings.host : "*", settings.port,
            (unsigned long long)sb_admin_store_seq (store), settings.db_path, settings.pub_bind,
            settings.snapshot_bind);
    fflush (stdout);

    while (!s_interrupted) {
        if (lws_service (s_context, 0) < 0) break;
        //  ZMQ_FD is edge-triggered: a reply sent in a callback can consume the
        //  wake-up of a request that arrived meanwhile.
        sb_admin_clone_drain (s_http.clone);
    }
    rc = 0;

cleanup:
    if (s_context) lws_context_destroy (s_context);
    s_context = NULL;
    sb_admin_api_destroy (&api);
    sb_admin_clone_destroy (&s_http.clone);
    if (zmq_ctx) zmq_ctx_term (zmq_ctx);
    sb_admin_auth_destroy (&s_http.auth);
    sb_admin_store_destroy (&store);
    return rc;
}
