#ifndef DRONEWALL_CNETFILTER_SHIM_H
#define DRONEWALL_CNETFILTER_SHIM_H
#include <stdint.h>
/* libc headers first, so linux/libc-compat.h does not define in_addr & co. a second time. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/set.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netlink.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <errno.h>
#include <linux/capability.h>
#include <poll.h>

/* setns(2) without _GNU_SOURCE: moves the calling thread into the namespace behind fd. */
static inline int cnf_setns(int fd, int nstype) {
    return (int)syscall(SYS_setns, fd, nstype);
}

/* CLONE_NEWNET, which Swift's Glibc module does not export without _GNU_SOURCE. */
static inline int cnf_clone_newnet(void) { return 0x40000000; }

/* Clears one capability from the calling thread's effective set (capabilities are per thread);
   lets tests see what a caller without CAP_NET_ADMIN sees. */
static inline int cnf_drop_effective_capability(int cap) {
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    if (cap < 0 || cap >= 64) return -1;
    if (syscall(SYS_capget, &hdr, data) != 0) return -1;
    data[cap / 32].effective &= ~(1u << (cap % 32));
    return (int)syscall(SYS_capset, &hdr, data);
}
#endif
