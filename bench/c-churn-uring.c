/*
 * c-churn-uring: bench/c-churn.c's job on io_uring, the floor for a churn client that could
 * use io_uring in its engine (issue 26, target 6). Arrivals at a fixed rate, each a fresh
 * connection that sends BYTES, reads the echo and compares every byte (memcmp against the
 * same pattern at the same per-connection offset as c-churn), shuts its side down once the
 * echo is complete, waits for the server's end of stream and closes.
 *
 * What a connection does goes through the ring, except two calls: TCP_NODELAY by io_uring's
 * socket command, connect, one send and a multishot receive go as one linked chain whose
 * steps post nothing when they succeed, the receive into a ring of provided buffers, and the
 * close too. The socket is made by socket(2), and the write side is shut by shutdown(2): the
 * ring runs every IORING_OP_SHUTDOWN on a worker thread (measured: each one queued to io-wq,
 * a wake-up and two switches per connection, 150 against 81 µs per connection in all), and
 * shutdown(2) needs a real descriptor, so there are no registered file slots either. One
 * ring, SINGLE_ISSUER and DEFER_TASKRUN (cheaper here than COOP_TASKRUN or neither), its
 * descriptor registered; io_uring_enter submits and waits at once, for the next completion
 * or the alarm, a timeout operation set once per arrival as c-churn's timer is (bench/c-uring.h).
 * Like c-churn it banks at most a second of missed arrivals and takes every completion when
 * it comes.
 *
 *   c-churn-uring HOST PORT RATE SECONDS [BYTES]      (BYTES at most 65536; default 32768)
 *
 * Prints one JSON line (connections ok and failed, process CPU seconds, wall seconds), like
 * c-churn; exits 1 on any mismatch or error, 2 when the kernel lacks what it uses (Linux 6.7:
 * the socket command). Needs liburing. Benchmark tool (bench/client-floor.sh), not part of
 * tests.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c-uring.h"

#define PERIOD 4096u
#define MAX_BYTES 65536u
#define SLOTS 4096u /* connections open at once */

/* What a completion is for: the low byte of its user data; the slot is above it (0 is the
 * alarm's). */
enum { OP_NODELAY = 1, OP_CONNECT, OP_SEND, OP_RECV, OP_CLOSE };

/* io_uring's socket commands (Linux 6.7), not in every liburing's headers. */
#ifndef SOCKET_URING_OP_SETSOCKOPT
#define SOCKET_URING_OP_SETSOCKOPT 3
#endif

struct conn {
    uint64_t received;
    uint32_t offset;
    int fd, shut, bad;
};

static unsigned char pattern[PERIOD + MAX_BYTES];
static struct conn conns[SLOTS];
static uint32_t free_slots[SLOTS], nfree;
static uint64_t ok, failed, bytes;
static struct io_uring ring;
static struct ubufs bufs;
static const int one = 1;
static struct sockaddr_in to;

/* The user data of operation `op` of the connection in `slot`. */
static uint64_t tag(uint32_t slot, int op) { return (uint64_t)slot << 8 | (uint64_t)op; }

static struct io_uring_sqe *sqe_for(uint32_t slot, int op) { return sqe_tagged(&ring, tag(slot, op)); }

/* A new connection in a free slot: TCP_NODELAY, connect, send and receive as one chain. A
 * step that fails cancels the rest, so the receive (last) always ends the chain's story with
 * a completion of its own. */
static void start(uint64_t arrival) {
    if (!nfree) { failed++; return; }
    /* The chain's four entries go in one submission: a full queue submitted between them
     * would unlink them. */
    if (io_uring_sq_space_left(&ring) < 4) io_uring_submit(&ring);
    uint32_t slot = free_slots[--nfree];
    struct conn *c = &conns[slot];
    c->received = 0; c->shut = 0; c->bad = 0;
    c->offset = (uint32_t)(arrival * 2654435761u) % PERIOD;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    const unsigned chain = IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;

    struct io_uring_sqe *sqe = sqe_for(slot, OP_NODELAY);
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, c->fd, NULL, 0, 0);
    sqe->off = SOCKET_URING_OP_SETSOCKOPT;     /* cmd_op */
    sqe->addr = (uint64_t)IPPROTO_TCP | (uint64_t)TCP_NODELAY << 32; /* level, optname */
    sqe->splice_fd_in = sizeof one;            /* optlen */
    sqe->addr3 = (uint64_t)(uintptr_t)&one;    /* optval */
    sqe->flags |= chain;

    sqe = sqe_for(slot, OP_CONNECT);
    io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)&to, sizeof to);
    sqe->flags |= chain;

    sqe = sqe_for(slot, OP_SEND);
    io_uring_prep_send(sqe, c->fd, pattern + c->offset, bytes, MSG_WAITALL);
    sqe->flags |= chain;

    recv_multi(&ring, c->fd, tag(slot, OP_RECV));
}

static void complete(const struct io_uring_cqe *cqe) {
    uint32_t slot = (uint32_t)(cqe->user_data >> 8);
    int op = (int)(cqe->user_data & 0xff), res = cqe->res;
    struct conn *c = &conns[slot];
    switch (op) {
    case OP_NODELAY: case OP_CONNECT: case OP_SEND:
        /* Only failures post (CQE_SKIP_SUCCESS). */
        if (op == OP_NODELAY && (res == -EINVAL || res == -EOPNOTSUPP)) {
            fprintf(stderr, "c-churn-uring: this kernel has no io_uring socket commands (Linux 6.7)\n");
            exit(2);
        }
        c->bad = 1;
        return;
    case OP_RECV:
        if (res > 0) {
            if (c->received + (uint64_t)res > bytes ||
                memcmp(ubufs_of(&bufs, cqe), pattern + c->offset + c->received, (size_t)res)) {
                fprintf(stderr, "c-churn-uring: echo differs from what was sent\n");
                exit(1);
            }
            ubufs_give(&bufs, ubufs_bid(cqe));
            c->received += (uint64_t)res;
            /* shutdown(2), not the ring's: the ring runs every shutdown on a worker thread
             * (measured: each one queued to io-wq), a wake-up and a switch per connection. */
            if (c->received == bytes && !c->shut) {
                if (shutdown(c->fd, SHUT_WR)) c->bad = 1;
                c->shut = 1;
            }
        }
        if (recv_goes_on(&ring, c->fd, cqe)) return;
        /* End of stream (0) or an error: the connection's last receive. */
        if (res < 0 || !c->shut || c->received != bytes) c->bad = 1;
        {
            struct io_uring_sqe *sqe = sqe_for(slot, OP_CLOSE);
            io_uring_prep_close(sqe, c->fd);
            sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        }
        if (c->bad) failed++; else ok++;
        free_slots[nfree++] = slot;
        return;
    case OP_CLOSE: /* only a failure posts */
        fprintf(stderr, "c-churn-uring: close: %s\n", strerror(-res));
        exit(1);
    }
}

int main(int argc, char **argv) {
    struct churn_args args = churn_args("c-churn-uring", argc, argv, MAX_BYTES);
    to = args.to;
    double rate = args.rate, seconds = args.seconds;
    bytes = args.bytes;
    for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (unsigned char)((i * 131) ^ (i >> 7));
    for (uint32_t i = 0; i < SLOTS; i++) free_slots[nfree++] = SLOTS - 1 - i;
    uring_start(&ring, 4096);
    ubufs_start(&ring, &bufs, 256, 65536);

    uint64_t total = (uint64_t)(rate * seconds), arrivals = 0;
    double gap = 1.0 / rate, t0 = now_s(), cpu0 = cpu_s(), due = t0, drain_until = t0 + seconds + 5;
    while (arrivals < total || nfree < SLOTS) {
        double now = now_s();
        if (arrivals >= total && now > drain_until) break;
        if (due < now - 1.0) due = now - 1.0; /* bank at most a second of missed arrivals */
        while (arrivals < total && due <= now) { start(arrivals++); due += gap; }
        if (!alarm_set) uring_alarm(&ring, arrivals < total ? due - now : 0.1);
        uring_wait(&ring, complete);
    }
    failed += SLOTS - nfree; /* still open when the drain ran out */
    printf("{\"connections_ok\":%llu,\"connections_failed\":%llu,\"cpu_s\":%.4f,\"wall_s\":%.3f}\n",
           (unsigned long long)ok, (unsigned long long)failed, cpu_s() - cpu0, now_s() - t0);
    return failed ? 1 : 0;
}
