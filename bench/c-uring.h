/*
 * What bench/'s io_uring clients (c-churn-uring.c, c-paced-uring.c) share, on liburing: the
 * ring, set up as echo-server's io_uring loop sets up its own (SINGLE_ISSUER and
 * DEFER_TASKRUN, which measured cheaper for a client here than COOP_TASKRUN or neither), with
 * its descriptor registered; one ring of provided receive buffers; multishot receives into
 * it; the alarm for the next scheduled time (a timeout operation, no timer descriptor); and
 * the loop's one wait, which submits what was queued, sleeps until the next completion and
 * hands it to the client.
 */
#ifndef C_URING_H
#define C_URING_H

#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <sys/mman.h>

#include "c-common.h"

#define URING_GROUP 0 /* the buffer group of the one ring of provided buffers */

struct ubufs {
    struct io_uring_buf_ring *ring;
    unsigned char *mem;
    unsigned count, size;
};

static inline void die_err(int err, const char *what) { errno = -err; die(what); }

/* The client's ring: `entries` submissions, eight times as many completions. */
static inline void uring_start(struct io_uring *ring, unsigned entries) {
    struct io_uring_params p = {
        .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE,
        .cq_entries = entries * 8,
    };
    int err = io_uring_queue_init_params(entries, ring, &p);
    if (err) die_err(err, "io_uring_queue_init_params (SINGLE_ISSUER, DEFER_TASKRUN: Linux 6.1)");
    if (io_uring_register_ring_fd(ring) != 1) die("io_uring_register_ring_fd");
}

/* Hands buffer `bid` back to the kernel to receive into. */
static inline void ubufs_give(struct ubufs *b, uint16_t bid) {
    io_uring_buf_ring_add(b->ring, b->mem + (size_t)bid * b->size, b->size, bid,
                          io_uring_buf_ring_mask(b->count), 0);
    io_uring_buf_ring_advance(b->ring, 1);
}

/* `count` (a power of two) buffers of `size` bytes, all given to the kernel. */
static inline void ubufs_start(struct io_uring *ring, struct ubufs *b, unsigned count, unsigned size) {
    size_t ring_len = count * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, ring_len + (size_t)count * size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED) die("mmap");
    *b = (struct ubufs){.ring = mem, .mem = (unsigned char *)mem + ring_len, .count = count, .size = size};
    io_uring_buf_ring_init(b->ring);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)mem, .ring_entries = count, .bgid = URING_GROUP};
    int err = io_uring_register_buf_ring(ring, &reg, 0);
    if (err) die_err(err, "io_uring_register_buf_ring (Linux 5.19)");
    for (unsigned bid = 0; bid < count; bid++) ubufs_give(b, (uint16_t)bid);
}

/* The buffer a receive's completion filled. */
static inline uint16_t ubufs_bid(const struct io_uring_cqe *cqe) {
    return (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
}

/* The bytes of the buffer a receive's completion filled. */
static inline const unsigned char *ubufs_of(const struct ubufs *b, const struct io_uring_cqe *cqe) {
    return b->mem + (size_t)ubufs_bid(cqe) * b->size;
}

/* A submission entry tagged `data`, submitting what is queued first if the queue is full. */
static inline struct io_uring_sqe *sqe_tagged(struct io_uring *ring, uint64_t data) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe) {
        io_uring_submit(ring);
        sqe = io_uring_get_sqe(ring);
        if (!sqe) die("io_uring_get_sqe");
    }
    io_uring_sqe_set_data64(sqe, data);
    return sqe;
}

/* A multishot receive on `fd` into the provided buffers, tagged `data`. */
static inline void recv_multi(struct io_uring *ring, int fd, uint64_t data) {
    struct io_uring_sqe *sqe = sqe_tagged(ring, data);
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = URING_GROUP;
}

/* After a receive's completion on `fd`: whether the receive goes on, still armed, or armed
 * again under the same user data when the kernel ended it with bytes still to come (its
 * own limit, or no provided buffer free: the bytes wait in the socket). False when it ended
 * for good: end of stream or an error, in the completion's result. */
static inline int recv_goes_on(struct io_uring *ring, int fd, const struct io_uring_cqe *cqe) {
    if (cqe->flags & IORING_CQE_F_MORE) return 1;
    if (cqe->res > 0 || cqe->res == -ENOBUFS) {
        recv_multi(ring, fd, cqe->user_data);
        return 1;
    }
    return 0;
}

/* The user data of the alarm's completion (no other operation may use it), whether an alarm
 * is set and not yet rung, and its time (the kernel reads it when the alarm is submitted). */
#define URING_ALARM 0
static int alarm_set;
static struct __kernel_timespec alarm_in;

/* Sets the alarm to ring once, `wait` seconds from now: a timeout operation on the ring,
 * set once per scheduled time rather than once per wait (a timeout on every wait, measured:
 * 13% more CPU per paced message). At most one is set at a time. */
static inline void uring_alarm(struct io_uring *ring, double wait) {
    if (wait < 1e-9) wait = 1e-9;
    alarm_in = (struct __kernel_timespec){.tv_sec = (long long)wait, .tv_nsec = (long long)((wait - (long long)wait) * 1e9)};
    io_uring_prep_timeout(sqe_tagged(ring, URING_ALARM), &alarm_in, 0, 0);
    alarm_set = 1;
}

/* Submits what is queued, sleeps until a completion comes (the alarm's, at the latest, if
 * one is set), and hands every completion but the alarm's to `complete`. */
static inline void uring_wait(struct io_uring *ring, void (*complete)(const struct io_uring_cqe *)) {
    struct io_uring_cqe *cqe;
    int err = io_uring_submit_and_wait(ring, 1);
    if (err < 0 && err != -EINTR) die_err(err, "io_uring_submit_and_wait");
    unsigned head, seen = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
        if (cqe->user_data == URING_ALARM) alarm_set = 0;
        else complete(cqe);
        seen++;
    }
    io_uring_cq_advance(ring, seen);
}

#endif
