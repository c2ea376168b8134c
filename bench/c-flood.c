/*
 * c-flood: the "tight hand-written C epoll client" that issue #6 asks flood-client to be
 * compared with. Same workload and checks as flood-client's stream mode, nothing else:
 * N connections (all connected before data flows), each sends BYTES in CHUNK writes with at
 * most WINDOW chunks unanswered, and every echoed byte is compared (memcmp) against a
 * precomputed 1 MiB pattern at a per-connection offset. One thread, edge-triggered epoll,
 * no allocation per chunk, the read that would only return EAGAIN is skipped. Like
 * flood-client, a window of more than 64 KiB gets a receive buffer that holds its echo.
 *
 *   c-flood HOST PORT CONNS BYTES CHUNK WINDOW [write|vmsplice]
 *
 * vmsplice mode sends by mapping the pattern's pages into a pipe and splicing the pipe into
 * the socket (no copy on send); bytes the socket did not take are read back out of the pipe.
 * Prints one JSON line; exits 1 on any mismatch or error. Benchmark tool, not part of tests.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "c-common.h"

#define PERIOD (1u << 20)

struct conn {
    int fd;
    uint32_t start;
    uint64_t sent, verified;
    int done;
};

static unsigned char *pattern;
static size_t chunk, window;
static uint64_t bytes;
static int use_vmsplice, pipe_r, pipe_w;
static unsigned char scratch[1 << 16];
static uint64_t leftovers;

/* Sends up to len bytes at p: write(2), or vmsplice + splice. Returns bytes taken, -1 on
 * EAGAIN, -2 on error. */
static ssize_t send_bytes(int fd, const unsigned char *p, size_t len) {
    if (!use_vmsplice) {
        ssize_t n = write(fd, p, len);
        if (n < 0) return errno == EAGAIN ? -1 : -2;
        return n;
    }
    struct iovec iov = {(void *)p, len};
    ssize_t in = vmsplice(pipe_w, &iov, 1, SPLICE_F_NONBLOCK);
    if (in <= 0) return -2;
    ssize_t out = splice(pipe_r, NULL, fd, NULL, in, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (out < 0 && errno != EAGAIN) return -2;
    if (out < 0) out = 0;
    if (in > out) leftovers++;
    for (ssize_t left = in - out; left > 0;) { /* empty the pipe for the next connection */
        ssize_t r = read(pipe_r, scratch, left < (ssize_t)sizeof scratch ? (size_t)left : sizeof scratch);
        if (r <= 0) return -2;
        left -= r;
    }
    return out ? out : -1;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: c-flood HOST PORT CONNS BYTES CHUNK WINDOW [write|vmsplice]\n");
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    size_t conns = strtoul(argv[3], 0, 10);
    bytes = strtoull(argv[4], 0, 10);
    chunk = strtoul(argv[5], 0, 10);
    window = strtoul(argv[6], 0, 10);
    use_vmsplice = argc > 7 && strcmp(argv[7], "vmsplice") == 0;
    if (!conns || !bytes || !chunk || !window) { fprintf(stderr, "c-flood: zero argument\n"); return 2; }

    pattern = malloc(PERIOD + chunk);
    uint64_t s = 0x2545F4914F6CDD1DULL;
    for (size_t i = 0; i < PERIOD; i += 8) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        uint64_t w = s * 0x2545F4914F6CDD1DULL;
        memcpy(pattern + i, &w, 8);
    }
    for (size_t i = 0; i < chunk; i++) pattern[PERIOD + i] = pattern[i % PERIOD];
    if (use_vmsplice) {
        int p[2];
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC)) die("pipe2");
        pipe_r = p[0]; pipe_w = p[1];
        fcntl(pipe_w, F_SETPIPE_SZ, (int)(chunk > 65536 ? chunk : 65536));
    }

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) { fprintf(stderr, "c-flood: bad host\n"); return 2; }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct conn *cs = calloc(conns, sizeof *cs);
    double t0 = now_s();
    for (size_t i = 0; i < conns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) die("socket");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int rcvbuf = (int)(chunk * window);
        if (chunk * window > 64 * 1024) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) && errno != EINPROGRESS) die("connect");
        cs[i] = (struct conn){.fd = fd, .start = (uint32_t)((i * 0x9E3779B9ULL) & (PERIOD - 1))};
    }
    /* Wait until every connection is up (like flood-client's gate) before any data flows. */
    for (size_t i = 0; i < conns; i++) {
        struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev)) die("epoll_ctl");
    }
    struct epoll_event evs[1024];
    for (size_t up = 0; up < conns;) {
        int n = epoll_wait(ep, evs, 1024, 10000);
        if (n <= 0) { fprintf(stderr, "c-flood: connect timed out\n"); return 1; }
        for (int k = 0; k < n; k++) {
            struct conn *c = &cs[evs[k].data.u64];
            int err = 0; socklen_t l = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err) { errno = err; die("connect"); }
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = evs[k].data.u64};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev); /* re-armed edge-triggered; fires once now */
            up++;
        }
    }
    double t1 = now_s();
    unsigned char *buf = malloc(1 << 16);
    size_t finished = 0;
    uint64_t total = 0;
    while (finished < conns) {
        int n = epoll_wait(ep, evs, 1024, 10000);
        if (n <= 0) { fprintf(stderr, "c-flood: no progress for 10 s\n"); return 1; }
        for (int k = 0; k < n; k++) {
            struct conn *c = &cs[evs[k].data.u64];
            if (c->done) continue;
            int closing = evs[k].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
            for (;;) { /* read and verify */
                ssize_t r = read(c->fd, buf, 1 << 16);
                if (r < 0 && errno == EAGAIN) break;
                if (r <= 0) { fprintf(stderr, "c-flood: connection %ld ended early\n", (long)evs[k].data.u64); return 1; }
                if ((uint64_t)r > c->sent - c->verified) { fprintf(stderr, "c-flood: extra bytes\n"); return 1; }
                for (ssize_t off = 0; off < r;) { /* compare in pieces that stay contiguous */
                    size_t at = (c->start + c->verified + off) & (PERIOD - 1);
                    size_t len = r - off < (ssize_t)chunk ? (size_t)(r - off) : chunk;
                    if (memcmp(buf + off, pattern + at, len)) { fprintf(stderr, "c-flood: mismatch\n"); return 1; }
                    off += len;
                }
                c->verified += r;
                total += r;
                if (c->verified == bytes) { c->done = 1; finished++; close(c->fd); break; }
                if (r < (1 << 16) && !closing) break;
            }
            if (c->done) continue;
            uint64_t limit = (c->verified / chunk + window) * chunk;
            if (limit > bytes) limit = bytes;
            while (c->sent < limit) {
                uint64_t end = (c->sent / chunk + 1) * chunk;
                if (end > bytes) end = bytes;
                size_t at = (c->start + c->sent) & (PERIOD - 1);
                ssize_t w = send_bytes(c->fd, pattern + at, end - c->sent);
                if (w == -1) break;
                if (w < 0) { perror("c-flood: send"); return 1; }
                c->sent += w;
            }
        }
    }
    double t2 = now_s(), cpu = cpu_s(); /* whole process, as flood-client reports */
    double gib = total / (double)(1ull << 30);
    printf("{\"mode\":\"%s\",\"connections\":%zu,\"bytes\":%llu,\"connect_s\":%.3f,\"stream_s\":%.3f,"
           "\"mb_per_s\":%.1f,\"cpu_s\":%.3f,\"cpu_s_per_gib\":%.3f,\"partial_splices\":%llu}\n",
           use_vmsplice ? "vmsplice" : "write", conns, (unsigned long long)total, t1 - t0, t2 - t1,
           total / (t2 - t1) / 1e6, cpu, cpu / gib, (unsigned long long)leftovers);
    return 0;
}
