/*
 * rvf-tool.c — a native command-line driver of the .rvf format layer
 * (src/rvf*.c) over the POSIX device, for interop tests and inspection.
 *
 *   rvf-tool dump FILE            JSON: identity, counts, live rows (ids as
 *                                 strings, vectors as shortest float text)
 *   rvf-tool run FILE < SCRIPT    apply commands, one per line:
 *       create DIM METRIC FILEID_HEX32
 *       ingest N            then N lines "ID F1 ... Fdim"
 *       delete N ID...
 *       compact             rewrite into FILE.compact.tmp, rename over, fsync dir
 *       derive CHILD FILEID_HEX32
 *   Each command commits durably; the tool prints one JSON line per command.
 *
 * Build: clang -std=c11 -O1 -Isrc tools/rvf-tool.c src/rvf.c src/rvf_commit.c \
 *          src/rvf_compact.c src/rvf_witness.c src/rvf_refresh.c src/crc32.c \
 *          src/io_posix.c src/mem.c src/idmap.c -o build/rvf-tool
 * (tests/js/rvf-interop.test.js builds it the same way.)
 * Exit status: 0 on success, 1 with a message on stderr otherwise.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "io_posix.h"
#include "rvf.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int die(const char *what, int rc, const char *msg)
{
    fprintf(stderr, "rvf-tool: %s: error %d: %s\n", what, rc, msg ? msg : "");
    exit(1);
}

static int hex16(const char *s, uint8_t out[16])
{
    if (!s || strlen(s) != 32) return -1;
    for (int i = 0; i < 16; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

static void print_hex(const uint8_t *b, int n)
{
    for (int i = 0; i < n; i++) printf("%02x", b[i]);
}

static void print_info(vl_rvf *h)
{
    vl_rvf_info in;
    vl_rvf_info_get(h, &in);
    printf("\"dim\":%u,\"metric\":%u,\"epoch\":%u,\"live\":%" PRIu64 ",\"deleted\":%" PRIu64
           ",\"dirCount\":%u,\"witnesses\":%u,\"depth\":%u,\"fileId\":\"",
           in.dim, in.metric, in.epoch, in.live, in.deleted, in.dir_count, in.witness_count,
           in.lineage_depth);
    print_hex(in.file_id, 16);
    printf("\",\"parentId\":\"");
    print_hex(in.parent_id, 16);
    printf("\",\"parentHash\":\"");
    print_hex(in.parent_hash, 32);
    printf("\"");
}

typedef struct dump_ctx { uint32_t dim; int first; } dump_ctx;

static int dump_row(void *ctx, uint64_t id, const float *v)
{
    dump_ctx *d = ctx;
    printf("%s[\"%" PRIu64 "\",[", d->first ? "" : ",", id);
    for (uint32_t j = 0; j < d->dim; j++) printf("%s%.9g", j ? "," : "", (double)v[j]);
    printf("]]");
    d->first = 0;
    return 0;
}

static vl_io *open_dev(const char *path, uint32_t flags)
{
    vl_io *io = NULL;
    int rc = vl_io_posix_open(path, flags, &io);
    if (rc) die(path, rc, "cannot open");
    return io;
}

static vl_rvf *open_store(vl_io *io, const char *path)
{
    vl_rvf *h = NULL;
    char msg[256] = "";
    int rc = vl_rvf_open(io, &h, msg, sizeof msg);
    if (rc) die(path, rc, msg);
    return h;
}

static int cmd_dump(const char *path)
{
    vl_io *io = open_dev(path, VL_IO_POSIX_RDONLY);
    vl_rvf *h = open_store(io, path);
    vl_rvf_info in;
    vl_rvf_info_get(h, &in);
    uint32_t wn = 0, wv = 0;
    int rc = vl_rvf_verify_witness(h, &wn, &wv);
    if (rc) die("verify witness", rc, vl_rvf_errmsg(h));
    printf("{");
    print_info(h);
    printf(",\"witnessChainValid\":%s,\"rows\":[", wv ? "true" : "false");
    dump_ctx d = { in.dim, 1 };
    rc = vl_rvf_scan(h, dump_row, &d);
    if (rc) die("scan", rc, vl_rvf_errmsg(h));
    printf("]}\n");
    vl_rvf_free(h);
    vl_io_posix_free(io);
    return 0;
}

static int cmd_run(const char *path)
{
    char line[1 << 16];
    vl_io *io = NULL;
    vl_rvf *h = NULL;
    char msg[256] = "";
    while (fgets(line, sizeof line, stdin)) {
        char cmd[32] = "";
        if (sscanf(line, "%31s", cmd) != 1) continue;
        int rc = VL_OK;
        if (strcmp(cmd, "create") == 0) {
            unsigned dim, metric;
            char hex[64];
            uint8_t fid[16];
            if (sscanf(line, "%*s %u %u %63s", &dim, &metric, hex) != 3 || hex16(hex, fid)) die("create", -1, "usage");
            io = open_dev(path, VL_IO_POSIX_CREATE | VL_IO_POSIX_EXCL);
            rc = vl_rvf_create(io, dim, metric, fid, &h, msg, sizeof msg);
            if (rc) die("create", rc, msg);
        } else {
            if (!h) { io = open_dev(path, 0); h = open_store(io, path); }
            vl_rvf_info in;
            vl_rvf_info_get(h, &in);
            if (strcmp(cmd, "ingest") == 0) {
                unsigned n;
                if (sscanf(line, "%*s %u", &n) != 1) die("ingest", -1, "usage");
                uint64_t *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
                float *v = malloc((size_t)(n ? n : 1) * in.dim * sizeof *v);
                if (!ids || !v) die("ingest", VL_ENOMEM, "out of memory");
                for (unsigned i = 0; i < n; i++) {
                    if (!fgets(line, sizeof line, stdin)) die("ingest", -1, "missing row");
                    char *p = line, *e;
                    ids[i] = strtoull(p, &e, 10);
                    if (e == p) die("ingest", -1, "bad id");
                    for (uint32_t j = 0; j < in.dim; j++) {
                        p = e;
                        v[(size_t)i * in.dim + j] = strtof(p, &e);
                        if (e == p) die("ingest", -1, "bad float");
                    }
                }
                rc = vl_rvf_ingest(h, n, ids, v, now_ns());
                free(ids);
                free(v);
            } else if (strcmp(cmd, "delete") == 0) {
                char *p = line + 6, *e;
                unsigned long n = strtoul(p, &e, 10);
                uint64_t *ids = malloc((n ? n : 1) * sizeof *ids);
                if (!ids) die("delete", VL_ENOMEM, "out of memory");
                for (unsigned long i = 0; i < n; i++) {
                    p = e;
                    ids[i] = strtoull(p, &e, 10);
                    if (e == p) die("delete", -1, "bad id");
                }
                uint32_t nd = 0;
                rc = vl_rvf_delete(h, (uint32_t)n, ids, now_ns(), &nd);
                free(ids);
            } else if (strcmp(cmd, "compact") == 0) {
                char tmp[4096];
                snprintf(tmp, sizeof tmp, "%s.compact.tmp", path);
                remove(tmp);
                vl_io *dst = open_dev(tmp, VL_IO_POSIX_CREATE | VL_IO_POSIX_EXCL);
                vl_rvf *n = NULL;
                rc = vl_rvf_compact(h, dst, now_ns(), &n);
                if (rc) die("compact", rc, vl_rvf_errmsg(h));
                vl_rvf_free(n);
                vl_io_posix_free(dst);
                vl_rvf_free(h);
                vl_io_posix_free(io);
                h = NULL;
                rc = vl_io_posix_replace(tmp, path);
                if (rc) die("rename", rc, tmp);
                io = open_dev(path, 0);
                h = open_store(io, path);
            } else if (strcmp(cmd, "derive") == 0) {
                char child[4096], hex[64];
                uint8_t fid[16];
                if (sscanf(line, "%*s %4095s %63s", child, hex) != 2 || hex16(hex, fid)) die("derive", -1, "usage");
                vl_io *cio = open_dev(child, VL_IO_POSIX_CREATE | VL_IO_POSIX_EXCL);
                vl_rvf *c = NULL;
                rc = vl_rvf_derive(h, cio, fid, &c, msg, sizeof msg);
                if (rc) die("derive", rc, msg);
                vl_rvf_free(c);
                vl_io_posix_free(cio);
            } else {
                die(cmd, -1, "unknown command");
            }
            if (rc) die(cmd, rc, vl_rvf_errmsg(h));
        }
        printf("{\"cmd\":\"%s\",", cmd);
        print_info(h);
        printf("}\n");
    }
    vl_rvf_free(h);
    vl_io_posix_free(io);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "dump") == 0) return cmd_dump(argv[2]);
    if (argc == 3 && strcmp(argv[1], "run") == 0) return cmd_run(argv[2]);
    fprintf(stderr, "usage: rvf-tool dump FILE | rvf-tool run FILE < script\n");
    return 1;
}
