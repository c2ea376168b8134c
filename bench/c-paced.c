/*
 * c-paced: the floor for flood-client's scheduled messages (issue 26, target 6): what
 * `flood-client -c CONNS --rate RATE --chunk SIZE` does, and nothing else, written the cheapest
 * way. CONNS connections, all up before the first message; then RATE messages a second in
 * all, due evenly and dealt round-robin over the connections, each written when due, its
 * echo compared (memcmp against the pattern at the connection's offset) when it comes. One
 * thread, edge-triggered epoll, the read that would only return EAGAIN skipped; due times
 * from a timer descriptor in the epoll set, armed at most once per due time and rings at
 * least 200 µs apart, as flood-client's alarm is (scheduled/open.rs ALARM_GAP).
 *
 *   c-paced HOST PORT CONNS RATE SECONDS [SIZE]      (SIZE 1..4096; default 64)
 *
 * Prints one JSON line (messages sent, bytes verified, process CPU seconds with the connects,
 * wall seconds of the paced part); exits 1 on any mismatch, short write or error. Benchmark tool
 * (bench/client-floor.sh), not part of tests.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c-common.h"

#define PERIOD 4096u
#define MAX_SIZE 4096u
#define READ_MAX 65536u
#define TIMER UINT64_MAX /* the timer's epoll data: no connection has it */
#define GAP 200e-6

static unsigned char pattern[PERIOD + READ_MAX];
static unsigned char scratch[READ_MAX];

/* Takes what the connection's socket holds and checks it against what was sent. */
static void take(struct paced_conn *c) {
    for (;;) {
        ssize_t n = read(c->fd, scratch, sizeof scratch);
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) die("read (the server closed or failed)");
        if (c->verified + (uint64_t)n > c->sent ||
            memcmp(scratch, pattern + (c->start + c->verified) % PERIOD, (size_t)n)) {
            fprintf(stderr, "c-paced: echo differs from what was sent\n");
            exit(1);
        }
        c->verified += (uint64_t)n;
        if ((size_t)n < sizeof scratch) return; /* a short read emptied the socket */
    }
}

int main(int argc, char **argv) {
    const struct paced_args a = paced_args("c-paced", argc, argv, MAX_SIZE);
    double cpu0 = cpu_s(); /* the connects count, as in flood-client's figure */
    paced_fill(pattern, sizeof pattern, PERIOD);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct paced_conn *cs = calloc((size_t)a.conns, sizeof *cs);
    if (!cs) die("calloc");
    for (long i = 0; i < a.conns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
        if (fd < 0) die("socket");
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)) die("TCP_NODELAY");
        if (connect(fd, (struct sockaddr *)&a.to, sizeof a.to) && errno != EINPROGRESS) die("connect");
        cs[i] = (struct paced_conn){.fd = fd, .start = (uint32_t)(((uint64_t)i * 2654435761u) % PERIOD)};
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = (uint64_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) die("epoll_ctl");
    }
    struct epoll_event evs[1024];
    for (long up = 0; up < a.conns;) { /* every connection up before the first message */
        int n = epoll_wait(ep, evs, 1024, 10000);
        if (n <= 0) { fprintf(stderr, "c-paced: connect timed out\n"); return 1; }
        for (int k = 0; k < n; k++) {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(cs[evs[k].data.u64].fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) die("connect");
            up++;
        }
    }
    int timer = timer_in(ep, TIMER);

    uint64_t total = (uint64_t)(a.rate * a.seconds), due_count = 0;
    double gap = 1.0 / a.rate, t0 = now_s(), due = t0, armed_for = -1;
    double give_up = t0 + a.seconds + 5;
    for (;;) {
        double now = now_s();
        while (due_count < total && due <= now) {
            struct paced_conn *c = &cs[due_count % (uint64_t)a.conns];
            ssize_t w = write(c->fd, pattern + (c->start + c->sent) % PERIOD, a.size);
            if (w != (ssize_t)a.size) die("write (short or failed)");
            c->sent += a.size;
            due_count++;
            due += gap;
        }
        if (due_count == total) {
            if (paced_all_echoed("c-paced", cs, a.conns, now, give_up)) break;
        } else if (armed_for < now) { /* the last ring has passed: the next, at least GAP after it */
            double ring = due > armed_for + GAP ? due : armed_for + GAP;
            arm_timer(timer, ring - now);
            armed_for = ring;
        }
        int n = epoll_wait(ep, evs, 1024, 100);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int k = 0; k < n; k++)
            if (evs[k].data.u64 != TIMER && (evs[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
                take(&cs[evs[k].data.u64]);
    }
    paced_report(cs, a.conns, due_count, cpu0, t0);
    return 0;
}
