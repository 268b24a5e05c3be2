/*
 * echo_client: the load client for aioloop's echo benchmarks.
 *
 *   echo_client HOST PORT CONNECTIONS SIZE DURATION WARMUP SERVER_PID
 *
 * Opens CONNECTIONS TCP connections and keeps one request in flight on each:
 * send SIZE bytes, wait until SIZE bytes came back, record the round trip,
 * send again.  One thread, one epoll set, level-triggered, so that a single
 * core drives a Python server at full speed without becoming the bottleneck.
 *
 * After WARMUP seconds it opens a measurement window of DURATION seconds.
 * Only requests completed inside the window are counted, and the server's CPU
 * time (process SERVER_PID) is read at the window's two edges, so the CPU per
 * request covers exactly the counted requests.  The result is one JSON line
 * on stdout:
 *
 *   {"requests": N, "seconds": S, "p50_us": A, "p99_us": B,
 *    "server_cpu_ns": C, "cpu_source": "schedstat"|"stat"}
 *
 * or {"error": "..."} (exit status 1) when the server misbehaves: a refused
 * connection, a reset, an early close, or no response inside the window.
 * The Python fallback (aioloop/bench/loadclient.py) speaks the same protocol.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    size_t sent;          /* bytes of the current request written so far */
    size_t received;      /* bytes of the current response read so far */
    uint64_t started_ns;  /* when the current request's first byte was sent */
    int want_out;         /* EPOLLOUT armed */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(const char *what)
{
    /* Messages are built by this file only: no quotes or backslashes. */
    printf("{\"error\": \"%s\"}\n", what);
    fflush(stdout);
    exit(1);
}

static void fail_errno(const char *what, int err)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
    fail(msg);
}

/*
 * CPU time of a whole process in nanoseconds.  /proc/PID/task/TID/schedstat
 * has nanosecond resolution (its first field is time on CPU); /proc/PID/stat
 * has utime+stime in clock ticks (10 ms here), too coarse for short windows,
 * and is only the fallback for kernels without schedstat.
 */
static int read_schedstat_ns(int pid, uint64_t *out)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    uint64_t total = 0;
    int ntasks = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[320];
        snprintf(p, sizeof p, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        FILE *f = fopen(p, "r");
        if (f == NULL)
            continue; /* the thread exited meanwhile */
        unsigned long long v;
        if (fscanf(f, "%llu", &v) == 1) {
            total += v;
            ntasks++;
        }
        fclose(f);
    }
    closedir(d);
    if (ntasks == 0)
        return -1;
    *out = total;
    return 0;
}

static int read_stat_ns(int pid, uint64_t *out)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    unsigned long long utime, stime;
    /* Fields 3..13 are skipped, 14 and 15 are utime and stime. */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &utime, &stime) != 2)
        return -1;
    *out = (utime + stime) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
    return 0;
}

static const char *cpu_source = "none";

static uint64_t server_cpu_ns(int pid)
{
    uint64_t v = 0;
    if (read_schedstat_ns(pid, &v) == 0) {
        cpu_source = "schedstat";
        return v;
    }
    if (read_stat_ns(pid, &v) == 0) {
        cpu_source = "stat";
        return v;
    }
    fail("cannot read the server's CPU time from /proc");
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double percentile_us(const uint64_t *v, size_t n, double pct)
{
    size_t rank = (size_t)((pct / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1000.0;
}

static int epfd;

static void arm(struct conn *c, int want_out)
{
    if (c->want_out == want_out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        fail_errno("epoll_ctl", errno);
    c->want_out = want_out;
}

static const char *payload;
static size_t size;

/* Write what the kernel takes of the current request; arm EPOLLOUT for the rest. */
static void pump_send(struct conn *c)
{
    while (c->sent < size) {
        ssize_t n = send(c->fd, payload + c->sent, size - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            fail_errno("send", errno);
        }
        c->sent += (size_t)n;
    }
    arm(c, c->sent < size);
}

static void start_request(struct conn *c, uint64_t t)
{
    c->sent = 0;
    c->received = 0;
    c->started_ns = t;
    pump_send(c);
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: %s HOST PORT CONNECTIONS SIZE DURATION WARMUP SERVER_PID\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    int nconns = atoi(argv[3]);
    size = (size_t)strtoul(argv[4], NULL, 10);
    double duration = atof(argv[5]);
    double warmup = atof(argv[6]);
    int server_pid = atoi(argv[7]);
    if (port <= 0 || nconns <= 0 || size == 0 || duration <= 0 || warmup < 0)
        fail("bad arguments");

    char *buf = malloc(size);
    if (buf == NULL)
        fail("out of memory");
    for (size_t i = 0; i < size; i++)
        buf[i] = (char)('a' + i % 26);
    payload = buf;
    size_t rbuf_size = 256 * 1024;
    char *rbuf = malloc(rbuf_size);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        fail_errno("epoll_create1", errno);

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        fail("HOST must be an IPv4 address");

    struct conn *conns = calloc((size_t)nconns, sizeof *conns);
    for (int i = 0; i < nconns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            fail_errno("socket", errno);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            fail_errno("connect", errno);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        conns[i].fd = fd;
        conns[i].want_out = -1; /* force the first arm() */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            fail_errno("epoll_ctl", errno);
        conns[i].want_out = 0;
    }

    size_t lat_cap = 1 << 16, lat_n = 0;
    uint64_t *lat = malloc(lat_cap * sizeof *lat);

    uint64_t t0 = now_ns();
    uint64_t window_start = t0 + (uint64_t)(warmup * 1e9);
    uint64_t window_end = window_start + (uint64_t)(duration * 1e9);
    int in_window = 0;
    uint64_t cpu_start = 0, cpu_end = 0, measured_start = 0, measured_end = 0;
    uint64_t requests = 0;

    for (int i = 0; i < nconns; i++)
        start_request(&conns[i], t0);

    struct epoll_event events[256];
    for (;;) {
        uint64_t t = now_ns();
        if (!in_window && t >= window_start) {
            cpu_start = server_cpu_ns(server_pid);
            measured_start = now_ns();
            in_window = 1;
        }
        if (in_window && t >= window_end) {
            cpu_end = server_cpu_ns(server_pid);
            measured_end = now_ns();
            break;
        }
        uint64_t deadline = in_window ? window_end : window_start;
        int timeout_ms = (int)((deadline - t) / 1000000u) + 1;
        int n = epoll_wait(epfd, events, 256, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail_errno("epoll_wait", errno);
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (events[i].events & EPOLLOUT)
                pump_send(c);
            if (!(events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                continue;
            for (;;) {
                ssize_t r = recv(c->fd, rbuf, rbuf_size, 0);
                if (r < 0) {
                    if (errno == EAGAIN || errno == EWOULDBLOCK)
                        break;
                    if (errno == EINTR)
                        continue;
                    fail_errno("recv", errno);
                }
                if (r == 0)
                    fail("the server closed a connection");
                c->received += (size_t)r;
                if (c->received > c->sent || c->received > size)
                    fail("the server sent more bytes than it was sent");
                if (c->received == size) {
                    uint64_t done = now_ns();
                    if (in_window && done < window_end) {
                        requests++;
                        if (lat_n == lat_cap) {
                            lat_cap *= 2;
                            lat = realloc(lat, lat_cap * sizeof *lat);
                            if (lat == NULL)
                                fail("out of memory");
                        }
                        lat[lat_n++] = done - c->started_ns;
                    }
                    start_request(c, done);
                    break; /* the next response cannot have arrived yet */
                }
            }
        }
    }

    if (requests == 0)
        fail("no response from the server inside the measurement window");
    qsort(lat, lat_n, sizeof *lat, cmp_u64);
    printf("{\"requests\": %llu, \"seconds\": %.6f, \"p50_us\": %.2f, \"p99_us\": %.2f, "
           "\"server_cpu_ns\": %llu, \"cpu_source\": \"%s\"}\n",
           (unsigned long long)requests, (double)(measured_end - measured_start) / 1e9,
           percentile_us(lat, lat_n, 50), percentile_us(lat, lat_n, 99),
           (unsigned long long)(cpu_end - cpu_start), cpu_source);
    fflush(stdout);
    for (int i = 0; i < nconns; i++)
        close(conns[i].fd);
    return 0;
}
