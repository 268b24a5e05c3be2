/*
 * eventfd_pingpong: the C floor of the multicore suite's cross-thread round trip.
 *
 *   eventfd_pingpong ROUNDS WARMUP
 *
 * Two pthreads, each with its own eventfd registered in its own epoll set, as
 * two event loops would have.  Thread A writes B's eventfd and sleeps in
 * epoll_wait until B has written A's; B sleeps in epoll_wait on its eventfd,
 * reads it and writes A's.  That is one round trip: two wake-ups of a
 * sleeping thread, what any loop-to-loop hand-off costs at the least.
 * WARMUP round trips first, then ROUNDS timed one by one.  The result is one
 * JSON line on stdout:
 *
 *   {"rounds": N, "seconds": S, "p50_us": A, "p99_us": B}
 *
 * or {"error": "..."} (exit status 1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct side {
    int efd;
    int ep;
};

static struct side a, b;
static long total_rounds;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(const char *what)
{
    printf("{\"error\": \"%s: %s\"}\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

static void make_side(struct side *s)
{
    struct epoll_event ev = {.events = EPOLLIN};
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0)
        fail("eventfd");
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep < 0)
        fail("epoll_create1");
    ev.data.fd = s->efd;
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->efd, &ev) < 0)
        fail("epoll_ctl");
}

/* Sleep in epoll_wait until this side's eventfd is readable, then drain it. */
static void wait_side(struct side *s)
{
    struct epoll_event ev;
    uint64_t v;
    for (;;) {
        int n = epoll_wait(s->ep, &ev, 1, -1);
        if (n < 0 && errno != EINTR)
            fail("epoll_wait");
        if (n == 1 && read(s->efd, &v, sizeof v) == sizeof v)
            return;
    }
}

static void poke(struct side *s)
{
    uint64_t one = 1;
    if (write(s->efd, &one, sizeof one) != sizeof one)
        fail("write eventfd");
}

static void *side_b(void *arg)
{
    (void)arg;
    for (long i = 0; i < total_rounds; i++) {
        wait_side(&b);
        poke(&a);
    }
    return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t p = *(const uint64_t *)x, q = *(const uint64_t *)y;
    return p < q ? -1 : p > q;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ROUNDS WARMUP\n", argv[0]);
        return 2;
    }
    long rounds = atol(argv[1]), warmup = atol(argv[2]);
    if (rounds < 1 || warmup < 0) {
        fprintf(stderr, "ROUNDS must be positive, WARMUP not negative\n");
        return 2;
    }
    total_rounds = rounds + warmup;
    uint64_t *lat = malloc(sizeof *lat * (size_t)rounds);
    if (!lat)
        fail("malloc");
    make_side(&a);
    make_side(&b);
    pthread_t tb;
    if ((errno = pthread_create(&tb, NULL, side_b, NULL)) != 0)
        fail("pthread_create");
    for (long i = 0; i < warmup; i++) {
        poke(&b);
        wait_side(&a);
    }
    uint64_t t0 = now_ns();
    for (long i = 0; i < rounds; i++) {
        uint64_t s = now_ns();
        poke(&b);
        wait_side(&a);
        lat[i] = now_ns() - s;
    }
    uint64_t t1 = now_ns();
    pthread_join(tb, NULL);
    qsort(lat, (size_t)rounds, sizeof *lat, cmp_u64);
    printf("{\"rounds\": %ld, \"seconds\": %.6f, \"p50_us\": %.3f, \"p99_us\": %.3f}\n", rounds,
           (t1 - t0) / 1e9, lat[rounds / 2] / 1e3, lat[(rounds * 99) / 100] / 1e3);
    return 0;
}
