// io_uring peer: one thread and one ring on liburing, built the way the well-known io_uring
// echo servers are: a multishot accept; per connection a multishot recv into a ring of
// provided buffers; a send of each filled buffer; the buffer back to the ring once its send
// is done. Unlike some of them it is careful where they are not: one send in flight per
// connection, the rest queued in order, a short send resent from where it stopped, a buffer
// re-provided only after all of it was sent; a ring that ran dry (ENOBUFS) or a multishot
// recv that ended is armed again later, nothing lost; a connection holding HOLD_MAX buffers
// stops receiving until its sends catch up (a client that never reads holds that much, not
// more); after the client's FIN what is owed is sent, then the socket closed; an error
// closes only its connection. TCP_NODELAY on every connection, backlog 32768, the soft
// open-file limit raised to the hard one (as Go does). Needs Linux 6.1 (single issuer,
// deferred task running, multishot recv, buffer rings). Usage: uring-echo [PORT|ADDR:PORT]
// (port 0: any free port; the address defaults to 127.0.0.1; [::1]:PORT for IPv6).
#include <errno.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define SQ_ENTRIES 4096
#define CQ_ENTRIES 32768
// The provided buffers: 2,048 of 16 KiB (32 MiB, mapped at start, touched as used). A
// power of two; the tests build it with a ring of 32 too (-DNBUFS=32) to run it dry.
#ifndef NBUFS
#define NBUFS 2048
#endif
#define BUF_SIZE 16384
#define BGID 0
// Buffers one connection may hold (received, not yet all sent) before its recv is
// cancelled; it is armed again once it holds HOLD_MAX / 2 or fewer.
#define HOLD_MAX 8
#define BACKLOG 32768

enum op { OP_ACCEPT = 1, OP_ACCEPT_WAIT, OP_RECV, OP_SEND, OP_CANCEL };
enum recv_state { R_OFF, R_ARMED, R_CANCELLING };

// One connection, indexed by its descriptor. A descriptor is closed only once none of its
// operations is in flight, so a completion never meets a later connection of the same fd.
struct conn {
    int open;
    int recv;          // enum recv_state
    int sending;       // a send of the queue's front is in flight
    int inflight;      // operations in flight: recv, send, cancels
    int eof;           // the client's FIN came: receive no more
    int closing;       // an error: close once nothing is in flight
    int head, tail;    // queue of buffer ids owed to the client, in order (-1: empty)
    int held;          // buffers in the queue
    unsigned off;      // bytes of the front buffer already sent
    int starved;       // on the starved list: its recv found the ring empty
    int prev, next;    // starved list links
};

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static unsigned char *bufs;
static int buf_next[NBUFS];
static unsigned buf_len[NBUFS];
static int held_total;  // buffers in connection queues (the rest are the kernel's)
static struct conn *conns;
static int nconns;
static int starved_head = -1, starved_tail = -1;
static int listen_fd;
static int recv_worked;
static long long backoff_ms;
static struct __kernel_timespec backoff_ts;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("uring-echo: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t udata(int fd, enum op op)
{
    return (uint64_t)(uint32_t)fd << 8 | op;
}

static struct io_uring_sqe *get_sqe(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (!sqe) {
        int ret = io_uring_submit(&ring);
        if (ret < 0)
            die("io_uring_submit: %s", strerror(-ret));
        sqe = io_uring_get_sqe(&ring);
        if (!sqe)
            die("no submission queue entry after a submit");
    }
    return sqe;
}

static void provide(int bid)
{
    io_uring_buf_ring_add(br, bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, bid,
                          io_uring_buf_ring_mask(NBUFS), 0);
    io_uring_buf_ring_advance(br, 1);
}

static void arm_accept(void)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, udata(listen_fd, OP_ACCEPT));
}

static void arm_recv(int fd)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, udata(fd, OP_RECV));
    conns[fd].recv = R_ARMED;
    conns[fd].inflight++;
}

static void cancel_recv(int fd)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_cancel64(sqe, udata(fd, OP_RECV), 0);
    io_uring_sqe_set_data64(sqe, udata(fd, OP_CANCEL));
    conns[fd].recv = R_CANCELLING;
    conns[fd].inflight++;
}

// Sends what is left of the queue's front buffer.
static void send_front(int fd)
{
    struct conn *c = &conns[fd];
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_send(sqe, fd, bufs + (size_t)c->head * BUF_SIZE + c->off,
                       buf_len[c->head] - c->off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, udata(fd, OP_SEND));
    c->sending = 1;
    c->inflight++;
}

static void starved_remove(int fd)
{
    struct conn *c = &conns[fd];
    if (!c->starved)
        return;
    if (c->prev >= 0)
        conns[c->prev].next = c->next;
    else
        starved_head = c->next;
    if (c->next >= 0)
        conns[c->next].prev = c->prev;
    else
        starved_tail = c->prev;
    c->starved = 0;
}

static void starved_add(int fd)
{
    struct conn *c = &conns[fd];
    c->starved = 1;
    c->next = -1;
    c->prev = starved_tail;
    if (starved_tail >= 0)
        conns[starved_tail].next = fd;
    else
        starved_head = fd;
    starved_tail = fd;
}

// Arms the recv if the connection may receive: not receiving, not ended, not waiting for
// ring buffers, and not holding more than half its share.
static void maybe_arm(int fd)
{
    struct conn *c = &conns[fd];
    if (c->recv == R_OFF && !c->eof && !c->closing && !c->starved && c->held <= HOLD_MAX / 2)
        arm_recv(fd);
}

static void start_closing(int fd)
{
    struct conn *c = &conns[fd];
    if (c->closing)
        return;
    c->closing = 1;
    // Ends a recv or a send that waits on this socket; what it held goes back at the close.
    shutdown(fd, SHUT_RDWR);
    if (c->recv == R_ARMED)
        cancel_recv(fd);
}

// Closes the connection if it is done: an error, or the client's FIN with everything
// sent back, and nothing of it in flight.
static void maybe_close(int fd)
{
    struct conn *c = &conns[fd];
    if (c->inflight > 0)
        return;
    if (!c->closing && !(c->eof && c->head < 0))
        return;
    while (c->head >= 0) {
        int bid = c->head;
        c->head = buf_next[bid];
        provide(bid);
        held_total--;
    }
    starved_remove(fd);
    close(fd);
    c->open = 0;
}

static void on_accept_wait(void)
{
    arm_accept();
}

static void on_accept(struct io_uring_cqe *cqe)
{
    int fd = cqe->res;
    if (fd >= 0) {
        backoff_ms = 0;
        if (fd >= nconns) {
            int n = nconns ? nconns : 1024;
            while (n <= fd)
                n *= 2;
            struct conn *grown = realloc(conns, (size_t)n * sizeof *conns);
            if (!grown)
                die("out of memory for %d connections", n);
            memset(grown + nconns, 0, (size_t)(n - nconns) * sizeof *conns);
            conns = grown;
            nconns = n;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = &conns[fd];
        memset(c, 0, sizeof *c);
        c->open = 1;
        c->head = c->tail = -1;
        c->prev = c->next = -1;
        arm_recv(fd);
    }
    if (cqe->flags & IORING_CQE_F_MORE)
        return;
    if (fd >= 0 || fd == -ECONNABORTED || fd == -EINTR || fd == -EAGAIN) {
        arm_accept();
        return;
    }
    if (fd == -EINVAL)
        die("multishot accept: %s (needs Linux 5.19)", strerror(-fd));
    // Out of descriptors or memory: back off as Go's net/http does (5 ms doubling to 1 s),
    // then accept again.
    backoff_ms = backoff_ms ? backoff_ms * 2 : 5;
    if (backoff_ms > 1000)
        backoff_ms = 1000;
    backoff_ts.tv_sec = backoff_ms / 1000;
    backoff_ts.tv_nsec = (backoff_ms % 1000) * 1000000;
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_timeout(sqe, &backoff_ts, 0, 0);
    io_uring_sqe_set_data64(sqe, udata(listen_fd, OP_ACCEPT_WAIT));
}

static void on_recv(int fd, struct io_uring_cqe *cqe)
{
    struct conn *c = &conns[fd];
    int res = cqe->res;
    int more = cqe->flags & IORING_CQE_F_MORE;
    if (res > 0) {
        if (!(cqe->flags & IORING_CQE_F_BUFFER))
            die("a recv completion without its buffer");
        int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        recv_worked = 1;
        buf_len[bid] = (unsigned)res;
        buf_next[bid] = -1;
        if (c->tail >= 0)
            buf_next[c->tail] = bid;
        else
            c->head = bid;
        c->tail = bid;
        c->held++;
        held_total++;
        if (c->closing) {
            // Still counted in the queue: maybe_close gives it back.
        } else if (!c->sending) {
            send_front(fd);
        }
        if (more && c->recv == R_ARMED && c->held >= HOLD_MAX)
            cancel_recv(fd);
    } else {
        if (cqe->flags & IORING_CQE_F_BUFFER)
            provide(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (res == 0)
            c->eof = 1;
        else if (res == -EINVAL && !recv_worked)
            die("multishot recv: %s (needs Linux 6.0)", strerror(-res));
        else if (res != -ENOBUFS && res != -ECANCELED)
            start_closing(fd);
    }
    if (more)
        return;
    // This recv has ended: the ring ran dry, it was cancelled, EOF, an error, or the
    // kernel ended it for its own reasons (after a last completion with data).
    c->recv = R_OFF;
    c->inflight--;
    if (res == -ENOBUFS && !c->eof && !c->closing)
        starved_add(fd);
    else
        maybe_arm(fd);
    maybe_close(fd);
}

static void on_send(int fd, struct io_uring_cqe *cqe)
{
    struct conn *c = &conns[fd];
    int res = cqe->res;
    c->sending = 0;
    c->inflight--;
    if (res <= 0) {
        // Zero bytes taken of a non-empty send would be tried forever: an error too.
        start_closing(fd);
    } else {
        c->off += (unsigned)res;
        if (c->off == buf_len[c->head]) {
            // All of it is out: only now may the kernel fill it again.
            int bid = c->head;
            c->head = buf_next[bid];
            if (c->head < 0)
                c->tail = -1;
            c->off = 0;
            c->held--;
            held_total--;
            provide(bid);
        }
        if (!c->closing && c->head >= 0)
            send_front(fd);
        maybe_arm(fd);
    }
    maybe_close(fd);
}

static void on_cancel(int fd)
{
    conns[fd].inflight--;
    maybe_close(fd);
}

// Arms the recv of connections that found the ring empty, about one per free buffer.
static void feed_starved(void)
{
    int spare = NBUFS - held_total;
    while (starved_head >= 0 && spare > 0) {
        int fd = starved_head;
        starved_remove(fd);
        maybe_arm(fd);
        spare -= 2;
    }
}

static void handle(struct io_uring_cqe *cqe)
{
    uint64_t data = io_uring_cqe_get_data64(cqe);
    int fd = (int)(data >> 8);
    switch ((enum op)(data & 0xff)) {
    case OP_ACCEPT:
        on_accept(cqe);
        break;
    case OP_ACCEPT_WAIT:
        on_accept_wait();
        break;
    case OP_RECV:
        on_recv(fd, cqe);
        break;
    case OP_SEND:
        on_send(fd, cqe);
        break;
    case OP_CANCEL:
        on_cancel(fd);
        break;
    }
}

static void setup_ring(void)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = CQ_ENTRIES;
    int ret = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
    if (ret == -EINVAL) {
        // Name the missing feature: try again without each flag.
        struct io_uring probe;
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_SINGLE_ISSUER;
        if (io_uring_queue_init_params(8, &probe, &p) == 0) {
            io_uring_queue_exit(&probe);
            die("io_uring_setup: this kernel lacks IORING_SETUP_DEFER_TASKRUN (Linux 6.1)");
        }
        memset(&p, 0, sizeof p);
        if (io_uring_queue_init_params(8, &probe, &p) == 0) {
            io_uring_queue_exit(&probe);
            die("io_uring_setup: this kernel lacks IORING_SETUP_SINGLE_ISSUER (Linux 6.0)");
        }
    }
    if (ret < 0)
        die("io_uring_setup: %s", strerror(-ret));

    bufs = mmap(NULL, (size_t)NBUFS * BUF_SIZE, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    br = mmap(NULL, NBUFS * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (bufs == MAP_FAILED || br == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)br;
    reg.ring_entries = NBUFS;
    reg.bgid = BGID;
    ret = io_uring_register_buf_ring(&ring, &reg, 0);
    if (ret < 0)
        die("registering the provided-buffer ring: %s (needs Linux 5.19)", strerror(-ret));
    io_uring_buf_ring_init(br);
    for (int bid = 0; bid < NBUFS; bid++)
        io_uring_buf_ring_add(br, bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, bid,
                              io_uring_buf_ring_mask(NBUFS), bid);
    io_uring_buf_ring_advance(br, NBUFS);
}

// Binds and listens on ARG (PORT or ADDR:PORT) and says where.
static void setup_listener(const char *arg)
{
    char host[256] = "127.0.0.1";
    const char *port = arg;
    const char *colon = strrchr(arg, ':');
    if (colon) {
        size_t n = (size_t)(colon - arg);
        if (n >= sizeof host)
            die("address too long: %s", arg);
        memcpy(host, arg, n);
        host[n] = 0;
        port = colon + 1;
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
            memmove(host, host + 1, n - 2);
            host[n - 2] = 0;
        }
    }
    struct addrinfo hints, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int ret = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (ret != 0)
        die("%s: %s", arg, gai_strerror(ret));
    listen_fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listen_fd, ai->ai_addr, ai->ai_addrlen) < 0)
        die("listen tcp %s: %s", arg, strerror(errno));
    freeaddrinfo(ai);
    if (listen(listen_fd, BACKLOG) < 0)
        die("listen: %s", strerror(errno));

    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char ip[INET6_ADDRSTRLEN];
    if (getsockname(listen_fd, (struct sockaddr *)&ss, &len) < 0)
        die("getsockname: %s", strerror(errno));
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        printf("listening on [%s]:%u\n", ip, ntohs(a->sin6_port));
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        printf("listening on %s:%u\n", ip, ntohs(a->sin_port));
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
        fprintf(argc > 2 ? stderr : stdout, "usage: uring-echo [PORT|ADDR:PORT]\n");
        return argc > 2 ? 2 : 0;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    setup_ring();
    setup_listener(argc > 1 ? argv[1] : "0");
    arm_accept();
    for (;;) {
        int ret = io_uring_submit_and_wait(&ring, 1);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY && ret != -ETIME)
            die("io_uring_enter: %s", strerror(-ret));
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            handle(cqe);
            seen++;
        }
        io_uring_cq_advance(&ring, seen);
        feed_starved();
    }
}
