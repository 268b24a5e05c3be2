/*
 * ref_server: the C reference server, the ceiling row of the echo and HTTP
 * benchmarks.  What a Python event loop adds on top of the kernel is measured
 * against it.
 *
 *   ref_server PORT echo    echo every byte back
 *   ref_server PORT http    answer each HTTP/1.1 request (a header block
 *                           ending in CRLF CRLF, no body) with a fixed
 *                           keep-alive response
 *
 * Plain epoll, level-triggered, one thread, non-blocking sockets; reads go
 * into one 256 KiB buffer and are written back at once; only what the kernel
 * refuses is kept per connection, and reading from that connection pauses
 * until it is flushed (so a slow reader cannot make us buffer without bound).
 * Listens on 127.0.0.1 (PORT 0 picks a free port) and announces itself on
 * stdout with the same line as the Python servers:
 *
 *   {"ready": PORT, "pid": PID}
 *
 * It runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char http_response[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 12\r\n"
    "\r\n"
    "Hello World!";

struct conn {
    int fd;
    char *pending;       /* bytes the kernel refused, sent on EPOLLOUT */
    size_t pending_len;
    int crlf_state;      /* http: how much of "\r\n\r\n" the last read ended in */
};

static int epfd;
static int http_mode;
static char rbuf[256 * 1024];
static char *wbuf;       /* http: responses for one read's worth of requests */
static size_t wbuf_cap;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void drop(struct conn *c)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pending);
    free(c);
}

static void set_events(struct conn *c, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl");
}

/* Write as much of data as the kernel takes: the byte count, or -1 on a broken connection. */
static ssize_t send_some(int fd, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1;
        }
        off += (size_t)n;
    }
    return (ssize_t)off;
}

/* Send data; keep what is refused and switch the connection to EPOLLOUT. Returns -1 if c was dropped. */
static int send_all(struct conn *c, const char *data, size_t len)
{
    ssize_t sent = send_some(c->fd, data, len);
    if (sent < 0) {
        drop(c);
        return -1;
    }
    size_t off = (size_t)sent;
    if (off < len) {
        c->pending = realloc(c->pending, c->pending_len + len - off);
        if (c->pending == NULL)
            die("realloc");
        memcpy(c->pending + c->pending_len, data + off, len - off);
        c->pending_len += len - off;
        set_events(c, EPOLLOUT);
    }
    return 0;
}

static void on_writable(struct conn *c)
{
    ssize_t sent = send_some(c->fd, c->pending, c->pending_len);
    if (sent < 0) {
        drop(c);
        return;
    }
    memmove(c->pending, c->pending + sent, c->pending_len - (size_t)sent);
    c->pending_len -= (size_t)sent;
    if (c->pending_len == 0)
        set_events(c, EPOLLIN);
}

/* Count the requests that end in this chunk: each ends with CRLF CRLF, which may span reads. */
static size_t count_requests(struct conn *c, const char *p, size_t n)
{
    static const char end[] = "\r\n\r\n";
    size_t count = 0;
    int s = c->crlf_state;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == end[s]) {
            if (++s == 4) {
                count++;
                s = 0;
            }
        } else {
            s = (p[i] == '\r') ? 1 : 0;
        }
    }
    c->crlf_state = s;
    return count;
}

static void on_readable(struct conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            drop(c);
            return;
        }
        if (n == 0) {
            drop(c);
            return;
        }
        if (!http_mode) {
            if (send_all(c, rbuf, (size_t)n) < 0)
                return;
        } else {
            size_t k = count_requests(c, rbuf, (size_t)n);
            size_t len = k * (sizeof http_response - 1);
            if (len > wbuf_cap) {
                wbuf_cap = len;
                wbuf = realloc(wbuf, wbuf_cap);
                if (wbuf == NULL)
                    die("realloc");
                for (size_t i = 0; i < wbuf_cap / (sizeof http_response - 1); i++)
                    memcpy(wbuf + i * (sizeof http_response - 1), http_response,
                           sizeof http_response - 1);
            }
            if (len > 0 && send_all(c, wbuf, len) < 0)
                return;
        }
        if (c->pending_len > 0)
            return; /* paused until the backlog is flushed */
        if ((size_t)n < sizeof rbuf)
            return; /* drained: level-triggered epoll reports the rest */
    }
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[2], "echo") != 0 && strcmp(argv[2], "http") != 0)) {
        fprintf(stderr, "usage: %s PORT echo|http\n", argv[0]);
        return 2;
    }
    http_mode = strcmp(argv[2], "http") == 0;

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("bind");
    if (listen(lfd, 1024) < 0)
        die("listen");
    socklen_t salen = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &salen);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0)
        die("epoll_ctl");

    printf("{\"ready\": %d, \"pid\": %d}\n", ntohs(sa.sin_port), (int)getpid());
    fflush(stdout);

    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(epfd, events, 256, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0)
                        break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    if (c == NULL)
                        die("calloc");
                    c->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                        die("epoll_ctl");
                }
                continue;
            }
            if (events[i].events & EPOLLOUT)
                on_writable(c);
            else if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(c);
        }
    }
}
