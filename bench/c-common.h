/*
 * What bench/'s C clients (c-flood.c, c-churn.c, c-paced.c) share: dying with the failed
 * call's name, the monotonic clock and the process's CPU time, both in seconds, and the timer
 * descriptor a scheduled client wakes on.
 */
#ifndef C_COMMON_H
#define C_COMMON_H

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

#endif
