/*  sb_fuzz_driver — stands in for libFuzzer in non-clang builds: replays every file
    of the seed corpus given on the command line, then deterministic mutations of
    each (bit flips, truncations, byte insertions), through LLVMFuzzerTestOneInput.
    A crash or sanitizer report fails the test; a clean run prints a count.  */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_MAX_INPUT (1 << 20)

static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
s_next (void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static size_t
s_run_mutations (const uint8_t *seed, size_t size)
{
    static uint8_t buf[S_MAX_INPUT + 16];
    size_t runs = 0;
    LLVMFuzzerTestOneInput (seed, size);
    runs++;
    for (int round = 0; round < 200; round++) {
        size_t n = size;
        memcpy (buf, seed, n);
        int edits = 1 + (int)(s_next () % 4);
        for (int e = 0; e < edits; e++) {
            uint64_t r = s_next ();
            switch (r % 4) {
                case 0: // flip a bit
                    if (n) buf[(r >> 8) % n] ^= (uint8_t)(1u << ((r >> 40) % 8));
                    break;
                case 1: // truncate
                    if (n) n = (r >> 8) % n;
                    break;
                case 2: // insert a byte
                    if (n < S_MAX_INPUT) {
                        size_t at = n ? (r >> 8) % n : 0;
                        memmove (buf + at + 1, buf + at, n - at);
                        buf[at] = (uint8_t)(r >> 32);
                        n++;
                    }
                    break;
                default: // overwrite with an interesting byte
                    if (n) {
                        static const uint8_t interesting[] = {0x00, 0xff, 0x7f, 0x80, 0xc0, 0xdc,
                                                              0xdd, 0xde, 0xdf, '"',  '{',  '}',
                                                              '[',  ']',  ',',  '\\'};
                        buf[(r >> 8) % n] = interesting[(r >> 40) % sizeof interesting];
                    }
                    break;
            }
        }
        LLVMFuzzerTestOneInput (buf, n);
        runs++;
    }
    return runs;
}

static size_t
s_run_file (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f) return 0;
    uint8_t *data = malloc (S_MAX_INPUT);
    size_t n = data ? fread (data, 1, S_MAX_INPUT, f) : 0;
    fclose (f);
    size_t runs = data ? s_run_mutations (data, n) : 0;
    free (data);
    return runs;
}

int
main (int argc, char **argv)
{
    size_t runs = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (argv[i][0] == '-' || stat (argv[i], &st) != 0) continue;
        if (S_ISDIR (st.st_mode)) {
            DIR *dir = opendir (argv[i]);
            struct dirent *entry;
            while (dir && (entry = readdir (dir))) {
                if (entry->d_name[0] == '.') continue;
                char path[4096];
                snprintf (path, sizeof path, "%s/%s", argv[i], entry->d_name);
                runs += s_run_file (path);
            }
            if (dir) closedir (dir);
        } else
            runs += s_run_file (argv[i]);
    }
    runs += s_run_mutations ((const uint8_t *)"", 0);
    printf ("fuzz driver: %zu inputs, no crash\n", runs);
    return 0;
}
