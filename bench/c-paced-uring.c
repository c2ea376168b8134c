/*
 * c-paced-uring: bench/c-paced.c's job on io_uring, the floor for flood-client's scheduled
 * messages if its engine used io_uring (issue 26, target 6). CONNS connections, all up before
 * the first message; then RATE messages a second in all, due evenly and dealt round-robin over
 * the connections, each sent when due, its echo compared (memcmp against the same pattern at
 * the same per-connection offset as c-paced) when it comes.
 *
 * The connects are plain system calls, counted in the CPU as c-paced counts its own. A send
 * that had to wait for room in a full socket could be overtaken by its connection's next
 * one; that shows as a mismatch (exit 1), never as a pass. After
 * them every connection has a multishot receive into one ring of provided buffers, and each
 * message is a send queued on the ring that posts nothing when it succeeds: the sends due at
 * a wake-up and the wait for the next one go to the kernel in one io_uring_enter. The alarm
 * (a timeout operation) rings at the next due time, at least 200 µs after the last ring, as
 * flood-client's alarm and c-paced's timer do. One ring, SINGLE_ISSUER and DEFER_TASKRUN
 * (bench/c-uring.h).
 *
 *   c-paced-uring HOST PORT CONNS RATE SECONDS [SIZE]      (SIZE 1..4096; default 64)
 *
 * Prints one JSON line like c-paced's (messages sent, bytes verified, process CPU seconds
 * with the connects, wall seconds of the paced part); exits 1 on any mismatch, failed send or
 * error. Needs liburing. Benchmark tool (bench/client-floor.sh), not part of tests.
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
#define MAX_SIZE 4096u
#define GAP 200e-6
#define SEND_FAILED 1 /* a send's user data (only a failure posts); a receive's is its
                       * connection + 2; the alarm's is 0 */

/* One receive fills at most one provided buffer: the pattern must reach that far past any
 * offset. */
#define BUF_SIZE 16384u
static unsigned char pattern[PERIOD + BUF_SIZE];
static struct paced_conn *cs;
static struct io_uring ring;
static struct ubufs bufs;

static void complete(const struct io_uring_cqe *cqe) {
    if (cqe->user_data == SEND_FAILED) { /* only a failure posts */
        fprintf(stderr, "c-paced-uring: send: %s\n", strerror(-cqe->res));
        exit(1);
    }
    struct paced_conn *c = &cs[cqe->user_data - 2];
    int res = cqe->res;
    if (res > 0) {
        if (c->verified + (uint64_t)res > c->sent ||
            memcmp(ubufs_of(&bufs, cqe), pattern + (c->start + c->verified) % PERIOD, (size_t)res)) {
            fprintf(stderr, "c-paced-uring: echo differs from what was sent\n");
            exit(1);
        }
        ubufs_give(&bufs, ubufs_bid(cqe));
        c->verified += (uint64_t)res;
    }
    if (recv_goes_on(&ring, c->fd, cqe)) return;
    fprintf(stderr, "c-paced-uring: receive: %s\n", res ? strerror(-res) : "the server closed");
    exit(1);
}

int main(int argc, char **argv) {
    const struct paced_args a = paced_args("c-paced-uring", argc, argv, MAX_SIZE);
    double cpu0 = cpu_s(); /* the connects count, as in flood-client's figure */
    paced_fill(pattern, sizeof pattern, PERIOD);
    uring_start(&ring, 4096);
    ubufs_start(&ring, &bufs, 1024, BUF_SIZE);
    cs = calloc((size_t)a.conns, sizeof *cs);
    if (!cs) die("calloc");
    for (long i = 0; i < a.conns; i++) { /* every connection up before the first message */
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        if (fd < 0) die("socket");
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)) die("TCP_NODELAY");
        if (connect(fd, (struct sockaddr *)&a.to, sizeof a.to)) die("connect");
        cs[i] = (struct paced_conn){.fd = fd, .start = (uint32_t)(((uint64_t)i * 2654435761u) % PERIOD)};
        recv_multi(&ring, fd, (uint64_t)i + 2);
    }

    uint64_t total = (uint64_t)(a.rate * a.seconds), due_count = 0;
    double gap = 1.0 / a.rate, t0 = now_s(), due = t0, rang = -1;
    double give_up = t0 + a.seconds + 5;
    for (;;) {
        double now = now_s();
        while (due_count < total && due <= now) {
            struct paced_conn *c = &cs[due_count % (uint64_t)a.conns];
            struct io_uring_sqe *sqe = sqe_tagged(&ring, SEND_FAILED);
            io_uring_prep_send(sqe, c->fd, pattern + (c->start + c->sent) % PERIOD, a.size, MSG_WAITALL);
            sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
            c->sent += a.size;
            due_count++;
            due += gap;
        }
        if (due_count == total) {
            if (paced_all_echoed("c-paced-uring", cs, a.conns, now, give_up)) break;
            if (!alarm_set) uring_alarm(&ring, 0.1);
        } else if (!alarm_set) { /* the last ring has passed: the next, at least GAP after it */
            rang = due > rang + GAP ? due : rang + GAP;
            uring_alarm(&ring, rang - now);
        }
        uring_wait(&ring, complete);
    }
    paced_report(cs, a.conns, due_count, cpu0, t0);
    return 0;
}
