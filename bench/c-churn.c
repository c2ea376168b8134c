/*
 * c-churn: the floor for a churn client. What flood-client's churn does (issue 26, target 6),
 * and nothing else, written the cheapest way: arrivals at a fixed rate, each a fresh
 * connection that sends BYTES in one write, reads the echo and compares every byte (memcmp
 * against a precomputed pattern at a per-connection offset), shuts its side down once the
 * echo is complete, waits for the server's end of stream and closes. One thread,
 * edge-triggered epoll, no allocation per connection, the read that would only return EAGAIN
 * skipped, the connect known done from the first writable event (SO_ERROR, one call). Like
 * flood-client it banks at most a second of missed arrivals, starts each arrival on time (a
 * timer descriptor in the epoll set, armed once per arrival) and takes every event when it
 * comes. A client that waited in epoll's whole milliseconds would start its arrivals in
 * bursts, and the server would serve them in batches and cost less per connection than
 * under an even schedule (measured: 39 against 60 µs on loopback, docs/PERFORMANCE.md).
 *
 *   c-churn HOST PORT RATE SECONDS [BYTES]      (BYTES at most 65536; default 32768)
 *
 * Prints one JSON line (connections ok and failed, process CPU seconds, wall seconds); exits
 * 1 on any mismatch or error. Benchmark tool (bench/client-floor.sh), not part of tests.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "c-common.h"

#define PERIOD 4096u
#define MAX_BYTES 65536u
#define SLOTS 65536u
#define TIMER UINT64_MAX /* the timer's epoll data: no slot has it */

struct conn {
    uint64_t received;
    uint32_t offset;
    int fd, connected, shut;
};

static unsigned char pattern[PERIOD + MAX_BYTES];
static unsigned char scratch[MAX_BYTES];
static struct conn conns[SLOTS];
static uint32_t free_slots[SLOTS], nfree;
static uint64_t ok, failed, bytes;
static int ep;

static void finish(uint32_t slot, int good) {
    close(conns[slot].fd);
    conns[slot].fd = -1;
    free_slots[nfree++] = slot;
    if (good) ok++; else failed++;
}

static void start(const struct sockaddr_in *to, uint64_t arrival) {
    if (!nfree) { failed++; return; }
    uint32_t slot = free_slots[--nfree];
    struct conn *c = &conns[slot];
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) die("socket");
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)) die("TCP_NODELAY");
    if (connect(c->fd, (const struct sockaddr *)to, sizeof *to) && errno != EINPROGRESS) die("connect");
    c->received = 0; c->connected = 0; c->shut = 0;
    c->offset = (uint32_t)(arrival * 2654435761u) % PERIOD;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = slot};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev)) die("epoll_ctl");
}

/* One event for a connection: finish its connect and send, take echoed bytes, end it. */
static void drive(uint32_t slot, uint32_t events) {
    struct conn *c = &conns[slot];
    if (!c->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) { finish(slot, 0); return; }
        c->connected = 1;
        if (write(c->fd, pattern + c->offset, bytes) != (ssize_t)bytes) { finish(slot, 0); return; }
    }
    if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) || !c->connected) return;
    for (;;) {
        ssize_t n = read(c->fd, scratch, sizeof scratch);
        if (n < 0) {
            if (errno == EAGAIN) return;
            finish(slot, 0);
            return;
        }
        if (n == 0) { finish(slot, c->shut && c->received == bytes); return; }
        if (c->received + (uint64_t)n > bytes || memcmp(scratch, pattern + c->offset + c->received, n)) {
            fprintf(stderr, "c-churn: echo differs from what was sent\n");
            exit(1);
        }
        c->received += (uint64_t)n;
        if (c->received == bytes && !c->shut) {
            if (shutdown(c->fd, SHUT_WR)) { finish(slot, 0); return; }
            c->shut = 1;
        }
        /* A short read emptied the socket: the next bytes come with the next event. */
        if ((size_t)n < sizeof scratch && !(events & (EPOLLRDHUP | EPOLLHUP))) return;
    }
}

int main(int argc, char **argv) {
    struct churn_args args = churn_args("c-churn", argc, argv, MAX_BYTES);
    struct sockaddr_in to = args.to;
    double rate = args.rate, seconds = args.seconds;
    bytes = args.bytes;
    for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (unsigned char)((i * 131) ^ (i >> 7));
    for (uint32_t i = 0; i < SLOTS; i++) free_slots[nfree++] = SLOTS - 1 - i;
    ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    int timer = timer_in(ep, TIMER);

    uint64_t total = (uint64_t)(rate * seconds), arrivals = 0;
    double gap = 1.0 / rate, t0 = now_s(), cpu0 = cpu_s(), due = t0, drain_until = t0 + seconds + 5;
    double armed_for = -1;
    struct epoll_event events[256];
    while (arrivals < total || nfree < SLOTS) {
        double now = now_s();
        if (arrivals >= total && now > drain_until) break;
        if (due < now - 1.0) due = now - 1.0; /* bank at most a second of missed arrivals */
        while (arrivals < total && due <= now) { start(&to, arrivals++); due += gap; }
        if (arrivals < total && due != armed_for) { /* one timer per arrival, not per wait */
            arm_timer(timer, due - now);
            armed_for = due;
        }
        int n = epoll_wait(ep, events, 256, 100);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++)
            if (events[i].data.u64 != TIMER) drive((uint32_t)events[i].data.u64, events[i].events);
    }
    failed += SLOTS - nfree; /* still open when the drain ran out */
    printf("{\"connections_ok\":%llu,\"connections_failed\":%llu,\"cpu_s\":%.4f,\"wall_s\":%.3f}\n",
           (unsigned long long)ok, (unsigned long long)failed, cpu_s() - cpu0, now_s() - t0);
    return failed ? 1 : 0;
}
