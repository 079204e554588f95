/* Load generator for bench/datapath.sh (built by it with gcc; no dependencies).
 *
 *   dpload echo ADDR PORT                   UDP: answer every datagram (the flows' handshake);
 *                                           bound to ADDR so answers come from it
 *   dpload listen PORT PROCS                TCP: accept and close, in PROCS processes
 *   dpload udp DST PORT SECONDS SENDERS     SENDERS processes, one UDP flow each: a 1-byte
 *                                           datagram answered by `echo` makes the flow
 *                                           established in conntrack, then sendmmsg floods it
 *                                           with 18-byte datagrams (64-byte frames); prints
 *                                           the datagrams handed to the kernel
 *   dpload conn DST PORT SECONDS WORKERS    WORKERS processes, each a loop of connect + close
 *                                           with RST (no TIME_WAIT, so ports do not run out);
 *                                           prints the connections established
 *
 * ADDR and DST may be IPv4 or IPv6 addresses. Only ever pointed at addresses inside the
 * benchmark's own namespaces. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* An IPv4 or IPv6 socket address; the family is the one the text parses as. */
typedef struct {
    struct sockaddr_storage ss;
    socklen_t len;
} sockaddr_any;

static sockaddr_any addr(const char *ip, int port) {
    sockaddr_any a;
    memset(&a, 0, sizeof a);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&a.ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a.ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET; v4->sin_port = htons(port); a.len = sizeof *v4;
    } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6; v6->sin6_port = htons(port); a.len = sizeof *v6;
    } else {
        fprintf(stderr, "bad address %s\n", ip); exit(2);
    }
    return a;
}

static int family(const sockaddr_any *a) { return a->ss.ss_family; }

static void die(const char *what) { perror(what); exit(1); }

static _Noreturn void udp_echo(const char *ip, int port) {
    sockaddr_any a = addr(ip, port);
    int s = socket(family(&a), SOCK_DGRAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a.ss, a.len) < 0) die("echo bind");
    char buf[64];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n > 0) sendto(s, buf, n, 0, (struct sockaddr *)&from, fl);
    }
}

static _Noreturn void tcp_listen(int port, int procs) {
    /* One IPv6 socket for both families (IPV6_V6ONLY off: IPv4 arrives mapped, RFC 3493 5.3). */
    int s = socket(AF_INET6, SOCK_STREAM, 0), one = 1, zero = 0;
    sockaddr_any a = addr("::", port);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (s < 0 || bind(s, (struct sockaddr *)&a.ss, a.len) < 0 || listen(s, 4096) < 0) die("listen");
    for (int i = 1; i < procs; i++) if (fork() == 0) break;
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c >= 0) close(c);
    }
}

/* Runs body(dst, seconds) in n processes; sums what they return. */
static long fan_out(int n, long (*body)(const sockaddr_any *, double), const sockaddr_any *dst,
                    double seconds) {
    long *counts = mmap(NULL, sizeof(long) * n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (counts == MAP_FAILED) die("mmap");
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0) die("fork");
        if (p == 0) { counts[i] = body(dst, seconds); _exit(counts[i] < 0 ? 1 : 0); }
    }
    int failed = 0, st;
    while (wait(&st) > 0) if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failed = 1;
    if (failed) return -1;
    long total = 0;
    for (int i = 0; i < n; i++) total += counts[i];
    return total;
}

static long udp_flow(const sockaddr_any *dst, double seconds) {
    int s = socket(family(dst), SOCK_DGRAM, 0);
    if (s < 0 || connect(s, (const struct sockaddr *)&dst->ss, dst->len) < 0) die("udp connect");
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char hello = 'h', reply[64];
    int answered = 0;
    for (int i = 0; i < 25 && !answered; i++) {
        send(s, &hello, 1, 0);
        answered = recv(s, reply, sizeof reply, 0) == 1;
    }
    if (!answered) { fprintf(stderr, "udp: no answer to the handshake (flow not established)\n"); return -1; }
    enum { BATCH = 64 };
    static char payload[18];
    struct iovec iov = {.iov_base = payload, .iov_len = sizeof payload};
    struct mmsghdr msgs[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) { msgs[i].msg_hdr.msg_iov = &iov; msgs[i].msg_hdr.msg_iovlen = 1; }
    long sent = 0;
    double end = now() + seconds;
    while (now() < end) {
        int n = sendmmsg(s, msgs, BATCH, 0);
        if (n > 0) sent += n;
        else if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED) die("sendmmsg");
    }
    return sent;
}

static long tcp_conns(const sockaddr_any *dst, double seconds) {
    long made = 0;
    struct linger rst = {.l_onoff = 1, .l_linger = 0};
    double end = now() + seconds;
    while (now() < end) {
        int s = socket(family(dst), SOCK_STREAM, 0);
        if (s < 0) die("socket");
        setsockopt(s, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
        if (connect(s, (const struct sockaddr *)&dst->ss, dst->len) == 0) made++;
        close(s);
    }
    return made;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "echo")) udp_echo(argv[2], atoi(argv[3]));
    if (argc == 4 && !strcmp(argv[1], "listen")) tcp_listen(atoi(argv[2]), atoi(argv[3]));
    if (argc == 6 && (!strcmp(argv[1], "udp") || !strcmp(argv[1], "conn"))) {
        sockaddr_any dst = addr(argv[2], atoi(argv[3]));
        long n = fan_out(atoi(argv[5]), argv[1][0] == 'u' ? udp_flow : tcp_conns, &dst, atof(argv[4]));
        if (n < 0) return 1;
        printf("%ld\n", n);
        return 0;
    }
    fprintf(stderr, "usage: see the comment at the top of bench/dpload.c\n");
    return 2;
}
