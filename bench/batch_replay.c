/* Replays a recorded nf_tables batch on a raw netlink socket, for bench/apply-scale.sh (built by
 * it with gcc; no dependencies): the kernel's own share of an apply, without any userspace
 * compiling or encoding.
 *
 *   batch_replay FILE     FILE holds the batch exactly as `dronewall apply` wrote it to the
 *                         socket (DRONEWALL_BATCH_DUMP=FILE): netlink messages, each padded
 *                         to 4 bytes. Sends it in one write, as dronewall does, waits for every
 *                         ack it asked for, and prints the milliseconds from the write to the
 *                         last ack. Exit 1 when the kernel refused something (the errno shown).
 *
 * Run it inside a fresh network namespace (the batch creates table inet dronewall there). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: batch_replay FILE\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) { perror(argv[1]); return 2; }
    size_t len = (size_t)st.st_size;
    char *buf = malloc(len ? len : 1);
    if (!buf || fread(buf, 1, len, f) != len) { fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }
    fclose(f);

    /* What to wait for, as dronewall's KernelTransport does: an ack for every object message that
     * asked for one; batch begin is answered on kernels since 6.4 (and when the whole batch is
     * refused), and then batch end too. */
    unsigned pending = 0, messages = 0;
    __u32 begin_seq = 0, end_seq = 0;
    int end_wants_ack = 0;
    for (size_t o = 0; o + sizeof(struct nlmsghdr) <= len;) {
        struct nlmsghdr *h = (struct nlmsghdr *)(buf + o);
        if (h->nlmsg_len < sizeof(*h) || o + h->nlmsg_len > len) { fprintf(stderr, "bad message at %zu\n", o); return 2; }
        messages++;
        if (h->nlmsg_type == NFNL_MSG_BATCH_BEGIN) begin_seq = h->nlmsg_seq;
        else if (h->nlmsg_type == NFNL_MSG_BATCH_END) { end_seq = h->nlmsg_seq; end_wants_ack = !!(h->nlmsg_flags & NLM_F_ACK); }
        else if (h->nlmsg_flags & NLM_F_ACK) pending++;
        o += NLMSG_ALIGN(h->nlmsg_len);
    }

    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) { perror("socket"); return 2; }
    struct sockaddr_nl local = {.nl_family = AF_NETLINK};
    if (bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0) { perror("bind"); return 2; }
    /* Room for the whole batch in one write and for every ack (about 1 KiB of kernel memory
     * each with overhead), as dronewall sizes its own socket. */
    int snd = (int)len + 4096, rcv = (int)(messages * 1024 + (1 << 20)), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));

    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    double start = now_ms();
    if (sendto(fd, buf, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) != (ssize_t)len) { perror("sendto"); return 2; }
    static char in[1 << 20];
    int end_pending = 0, failed = 0;
    while (pending > 0 || end_pending) {
        ssize_t n = recv(fd, in, sizeof(in), 0);
        if (n < 0) { if (errno == EINTR) continue; perror("recv"); return 2; }
        for (struct nlmsghdr *h = (struct nlmsghdr *)in; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type != NLMSG_ERROR) continue;
            int err = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
            if (err) { fprintf(stderr, "kernel refused message %u: %s\n", h->nlmsg_seq, strerror(err)); failed = 1; }
            if (h->nlmsg_seq == begin_seq) {
                if (err) { pending = 0; end_pending = 0; break; }
                end_pending = end_wants_ack;
            } else if (h->nlmsg_seq == end_seq) {
                end_pending = 0;
            } else if (pending > 0) {
                pending--;
                if (err) end_pending = 0; /* an aborted batch is not answered at batch end */
            }
        }
    }
    printf("%.1f\n", now_ms() - start);
    return failed;
}
