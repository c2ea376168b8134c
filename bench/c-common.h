/*
 * What bench/'s C clients (c-flood.c, c-churn.c, c-paced.c and the io_uring twins of the
 * last two) share: dying with the failed call's name, the monotonic clock and the process's
 * CPU time, both in seconds, the timer descriptor a scheduled client wakes on, and the
 * arguments each pair of twins takes.
 */
#ifndef C_COMMON_H
#define C_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>

static void die(const char *what) { perror(what); exit(1); }

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

/* A non-blocking timer descriptor in the epoll set `ep`, edge-triggered, its events tagged
 * `tag` (which no connection may use). */
static inline int timer_in(int ep, uint64_t tag) {
    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer < 0) die("timerfd_create");
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = tag};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, timer, &ev)) die("epoll_ctl timer");
    return timer;
}

/* Arms `timer` to ring once, `wait` seconds from now (at least a nanosecond: zero disarms). */
static inline void arm_timer(int timer, double wait) {
    if (wait < 1e-9) wait = 1e-9;
    struct itimerspec at = {.it_value = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (time_t)wait) * 1e9)}};
    if (timerfd_settime(timer, 0, &at, NULL)) die("timerfd_settime");
}

/* HOST PORT as an IPv4 address, or exit 2 naming `name`'s bad HOST. */
static inline struct sockaddr_in address_of(const char *name, const char *host, const char *port) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    if (inet_pton(AF_INET, host, &to.sin_addr) != 1) { fprintf(stderr, "%s: bad HOST\n", name); exit(2); }
    return to;
}

/* The churn clients' arguments: HOST PORT RATE SECONDS [BYTES] (BYTES 1..max, default
 * 32768). Exits 2 with the usage or the rule broken. */
struct churn_args { struct sockaddr_in to; double rate, seconds; uint64_t bytes; };
static inline struct churn_args churn_args(const char *name, int argc, char **argv, uint64_t max) {
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: %s HOST PORT RATE SECONDS [BYTES]\n", name);
        exit(2);
    }
    struct churn_args a = {.to = address_of(name, argv[1], argv[2]), .rate = atof(argv[3]),
                           .seconds = atof(argv[4]), .bytes = argc == 6 ? strtoull(argv[5], NULL, 10) : 32768};
    if (a.rate <= 0 || a.seconds <= 0 || a.bytes == 0 || a.bytes > max) {
        fprintf(stderr, "%s: RATE and SECONDS must be positive, BYTES 1..%llu\n", name, (unsigned long long)max);
        exit(2);
    }
    return a;
}

/* The paced clients' arguments: HOST PORT CONNS RATE SECONDS [SIZE] (SIZE 1..max, default
 * 64). Exits 2 with the usage or the rule broken. */
struct paced_args { struct sockaddr_in to; long conns; double rate, seconds; size_t size; };
static inline struct paced_args paced_args(const char *name, int argc, char **argv, size_t max) {
    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: %s HOST PORT CONNS RATE SECONDS [SIZE]\n", name);
        exit(2);
    }
    struct paced_args a = {.to = address_of(name, argv[1], argv[2]), .conns = atol(argv[3]), .rate = atof(argv[4]),
                           .seconds = atof(argv[5]), .size = argc == 7 ? strtoul(argv[6], NULL, 10) : 64};
    if (a.conns <= 0 || a.rate <= 0 || a.seconds <= 0 || a.size == 0 || a.size > max) {
        fprintf(stderr, "%s: CONNS, RATE and SECONDS must be positive, SIZE 1..%zu\n", name, max);
        exit(2);
    }
    return a;
}

/* A paced client's connection: what it sent and what came back verified, from its offset
 * `start` in the pattern. */
struct paced_conn {
    int fd;
    uint32_t start;
    uint64_t sent, verified;
};

/* A paced client's pattern: `len` bytes repeating every `period`, each connection's bytes
 * read from its own offset in it. */
static inline void paced_fill(unsigned char *pattern, size_t len, size_t period) {
    for (size_t i = 0; i < len; i++) pattern[i] = (unsigned char)(((i % period) * 131) ^ ((i % period) >> 7));
}

/* Once every message is sent: exits 1 naming `name` when connections still wait for echoes
 * after `give_up`; returns whether all are echoed. */
static inline int paced_all_echoed(const char *name, const struct paced_conn *cs, long conns, double now, double give_up) {
    long behind = 0;
    for (long i = 0; i < conns; i++) behind += cs[i].verified < cs[i].sent;
    if (behind && now > give_up) { fprintf(stderr, "%s: %ld connections never echoed all\n", name, behind); exit(1); }
    return !behind;
}

/* A paced client's one JSON line: messages sent, bytes verified, CPU since `cpu0`, wall
 * seconds since `t0`. */
static inline void paced_report(const struct paced_conn *cs, long conns, uint64_t messages, double cpu0, double t0) {
    uint64_t verified = 0;
    for (long i = 0; i < conns; i++) verified += cs[i].verified;
    printf("{\"messages\":%llu,\"bytes_verified\":%llu,\"cpu_s\":%.4f,\"wall_s\":%.3f}\n",
           (unsigned long long)messages, (unsigned long long)verified, cpu_s() - cpu0, now_s() - t0);
}

#endif
