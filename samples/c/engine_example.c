/*
 * engine_example.c — runs the Ephemera engine from C through ephemera_engine.h.
 *
 *   engine_example CLIP MANIFEST [SECONDS] [CAMERA_ID]
 *
 * Creates an engine whose store lives in a fresh temporary directory (removed at the end), adds one camera on CLIP
 * (looping, live-paced) under the purpose manifest MANIFEST with one counting line, starts it,
 * prints every released record (one JSON object per line, on stdout) for SECONDS (default 8),
 * stops (draining: the last records are printed too), prints the statistics and exits 0 only when
 * the pixel ledger balances (allocated == wiped, leaked == 0), else 1. Diagnostics go to stderr.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ephemera_engine.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Writes s into out as a JSON string body (quotes and backslashes escaped). */
static void json_escape(const char *s, char *out, size_t cap) {
    size_t n = 0;
    for (; *s && n + 2 < cap; s++) {
        if (*s == '"' || *s == '\\') out[n++] = '\\';
        out[n++] = *s;
    }
    out[n] = '\0';
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* Removes the temporary store directory (store, audit key) once the engine is destroyed. */
static void remove_dir(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* Reads an integer member "key": N that follows "pixels" in the statistics JSON. */
static long long pixels_member(const char *stats, const char *key) {
    const char *p = strstr(stats, "\"pixels\"");
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    p = p ? strstr(p, pat) : NULL;
    return p ? atoll(p + strlen(pat)) : -1;
}

/* Prints records until the engine has none (timeout) or stopped; returns how many. */
static int drain(eph_engine *e, char **buf, size_t *cap, int timeout_ms, int *stopped) {
    int got = 0;
    for (;;) {
        int n = eph_engine_next_record(e, *buf, *cap, timeout_ms);
        if (n > 0) { printf("%s\n", *buf); fflush(stdout); got++; continue; }
        if (n == 0) return got;
        if (n == EPH_ERR_BUFFER_TOO_SMALL) { /* the record is kept: grow and ask again */
            *cap *= 4;
            *buf = realloc(*buf, *cap);
            if (!*buf) { fprintf(stderr, "out of memory\n"); exit(1); }
            continue;
        }
        if (n == EPH_ERR_STOPPED) { *stopped = 1; return got; }
        fprintf(stderr, "next_record: %d %s\n", n, eph_engine_last_error());
        return got;
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s CLIP MANIFEST [SECONDS] [CAMERA_ID]\n", argv[0]);
        return 2;
    }
    const char *clip = argv[1], *manifest = argv[2];
    double seconds = argc > 3 ? atof(argv[3]) : 8.0;
    const char *camera = argc > 4 ? argv[4] : "plaza-count-1";

    char dir_template[] = "/tmp/ephemera-c-XXXXXX";
    char *dir = mkdtemp(dir_template);
    if (!dir) { perror("mkdtemp"); return 1; }

    char clip_j[2048], manifest_j[2048], dir_j[1024], json[8192];
    json_escape(clip, clip_j, sizeof clip_j);
    json_escape(manifest, manifest_j, sizeof manifest_j);
    json_escape(dir, dir_j, sizeof dir_j);

    snprintf(json, sizeof json,
             "{\"store\": \"%s/ephemera.db\", \"detect_fps\": 5, \"audit_interval_seconds\": 2}", dir_j);
    eph_engine *e = NULL;
    int rc = eph_engine_create(json, &e);
    if (rc != EPH_OK) { fprintf(stderr, "create: %d %s\n", rc, eph_engine_last_error()); remove_dir(dir); return 1; }

    snprintf(json, sizeof json,
             "{\"id\": \"%s\", \"source\": \"%s\", \"manifest_path\": \"%s\", \"loop\": true, \"paced\": true,"
             " \"lines\": [{\"name\": \"crossing-west\", \"x1\": 300, \"y1\": 0, \"x2\": 300, \"y2\": 576}]}",
             camera, clip_j, manifest_j);
    rc = eph_engine_add_camera(e, json);
    if (rc != EPH_OK) {
        fprintf(stderr, "add_camera: %d %s\n", rc, eph_engine_last_error());
        eph_engine_destroy(e);
        remove_dir(dir);
        return 1;
    }
    rc = eph_engine_start(e);
    if (rc != EPH_OK) { fprintf(stderr, "start: %d %s\n", rc, eph_engine_last_error()); eph_engine_destroy(e); remove_dir(dir); return 1; }
    fprintf(stderr, "engine started: camera %s on %s for %.1f s\n", camera, clip, seconds);

    size_t cap = 256; /* small on purpose: exercises EPH_ERR_BUFFER_TOO_SMALL */
    char *buf = malloc(cap);
    int records = 0, stopped = 0;
    double end = now_s() + seconds;
    while (now_s() < end && !stopped) records += drain(e, &buf, &cap, 200, &stopped);

    rc = eph_engine_stop(e);
    if (rc != EPH_OK) fprintf(stderr, "stop: %d %s\n", rc, eph_engine_last_error());
    /* After stop the reader completes: what is left, then EPH_ERR_STOPPED. */
    while (!stopped) {
        int got = drain(e, &buf, &cap, 2000, &stopped);
        records += got;
        if (got == 0 && !stopped) break; /* should not happen: a stopped engine completes its reader */
    }

    char stats[16384];
    int n = eph_engine_stats(e, stats, sizeof stats);
    if (n < 0) { fprintf(stderr, "stats: %d %s\n", n, eph_engine_last_error()); eph_engine_destroy(e); remove_dir(dir); return 1; }
    printf("stats: %s\n", stats);
    eph_engine_destroy(e);
    remove_dir(dir);

    long long allocated = pixels_member(stats, "allocated"), wiped = pixels_member(stats, "wiped"),
              leaked = pixels_member(stats, "leaked");
    int balanced = allocated > 0 && allocated == wiped && leaked == 0;
    printf("records: %d\n", records);
    printf("ledger: allocated=%lld wiped=%lld leaked=%lld %s\n", allocated, wiped, leaked,
           balanced ? "balanced" : "NOT BALANCED");
    free(buf);
    return balanced ? 0 : 1;
}
