import CNetfilter
#if canImport(Glibc)
import Glibc
#endif

/// What one receive gave.
package enum NetlinkReceive {
    case data([UInt8])
    /// Nothing arrived in time.
    case timeout
    /// ENOBUFS: the kernel dropped messages because the receive buffer was full.
    case overrun
}

/// The one NETLINK_NETFILTER socket of this module (via libmnl), under both the nf_tables transport and
/// the NFLOG reader: namespace entry, buffer sizing, send, and receive with EINTR retry. Every socket
/// system call of `Netfilter` is here.
final class NetlinkSocket {
    private let socket: OpaquePointer
    private let networkNamespace: String?
    private var buffer: [UInt8]

    /// Opens and binds the socket in `networkNamespace` (a name under /run/netns, as `ip netns` makes, or a
    /// path such as /proc/PID/ns/net); it stays there for its lifetime. `receiveCapacity` bounds one read.
    init(networkNamespace: String?, receiveCapacity: Int) throws(NetlinkError) {
        self.networkNamespace = networkNamespace
        socket = try NetlinkSocket.inNamespace(networkNamespace) { () throws(NetlinkError) -> OpaquePointer in
            guard let nl = mnl_socket_open(NETLINK_NETFILTER) else { throw .system("socket(NETLINK_NETFILTER)") }
            guard mnl_socket_bind(nl, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
                let e = NetlinkError.system("bind")
                mnl_socket_close(nl)
                throw e
            }
            return nl
        }
        buffer = [UInt8](repeating: 0, count: receiveCapacity)
    }

    deinit { mnl_socket_close(socket) } // the kernel unbinds NFLOG groups when the socket goes

    var fileDescriptor: Int32 { mnl_socket_get_fd(socket) }

    /// Runs `body` with the calling thread in another network namespace: sockets keep the namespace they
    /// were created in, and the thread goes back at once.
    static func inNamespace<T>(_ namespace: String?, _ body: () throws(NetlinkError) -> T) throws(NetlinkError) -> T {
        guard let ns = namespace else { return try body() }
        let path = ns.hasPrefix("/") ? ns : "/run/netns/\(ns)"
        let restoreFD = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard restoreFD >= 0 else { throw .system("open /proc/thread-self/ns/net") }
        defer { close(restoreFD) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("open \(path)") }
        let r = cnf_setns(fd, cnf_clone_newnet())
        let e = errno
        close(fd)
        guard r == 0 else { throw NetlinkError.system("setns \(path)", errno: e) }
        defer {
            let back = cnf_setns(restoreFD, cnf_clone_newnet())
            precondition(back == 0, "cannot return to the original network namespace")
        }
        return try body()
    }

    /// Reads a small /proc file as seen from the socket's namespace (e.g. /proc/thread-self/net/...).
    func readNamespaceFile(_ path: String) -> String? {
        let bytes = try? NetlinkSocket.inNamespace(networkNamespace) { () throws(NetlinkError) -> [UInt8]? in
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var out: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { return out }
                out += chunk[0..<n]
            }
        }
        return (bytes ?? nil).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The port id the kernel gave the socket: the sender it names in change notifications.
    var portID: UInt32 { mnl_socket_get_portid(socket) }

    /// Joins a multicast group (e.g. NFNLGRP_NFTABLES, the nf_tables change notifications).
    func join(group: UInt32) throws(NetlinkError) {
        var g = group
        guard mnl_socket_setsockopt(socket, NETLINK_ADD_MEMBERSHIP, &g, socklen_t(MemoryLayout<UInt32>.size)) == 0 else {
            throw .system("join netlink group \(group)")
        }
    }

    /// Turns on extended acks (the kernel's reason) and capped acks (only the request's header echoed).
    func enableExtendedAcks() {
        var on: Int32 = 1
        _ = mnl_socket_setsockopt(socket, NETLINK_EXT_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Sets SO_RCVBUF; the FORCE variant passes net.core.rmem_max, with CAP_NET_ADMIN.
    func setReceiveBuffer(_ bytes: Int) { setBuffer(bytes, force: SO_RCVBUFFORCE, plain: SO_RCVBUF) }

    /// Sets SO_SNDBUF, likewise past net.core.wmem_max when it can.
    func setSendBuffer(_ bytes: Int) { setBuffer(bytes, force: SO_SNDBUFFORCE, plain: SO_SNDBUF) }

    private func setBuffer(_ bytes: Int, force: Int32, plain: Int32) {
        var size = Int32(clamping: bytes)
        let len = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(fileDescriptor, SOL_SOCKET, force, &size, len) != 0 {
            _ = setsockopt(fileDescriptor, SOL_SOCKET, plain, &size, len)
        }
    }

    /// SO_RCVBUF as the kernel reports it (twice what was asked, for its overhead).
    func receiveBufferBytes() -> Int {
        var size: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fileDescriptor, SOL_SOCKET, SO_RCVBUF, &size, &len) == 0 else { return 0 }
        return Int(size)
    }

    func send(_ bytes: [UInt8]) throws(NetlinkError) {
        while true {
            let n = bytes.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n == bytes.count else { throw .system("sendto") }
            return
        }
    }

    /// Waits up to `timeoutMilliseconds` (0: only what is queued) and returns one datagram.
    func receive(timeoutMilliseconds: Int) throws(NetlinkError) -> NetlinkReceive {
        let fd = fileDescriptor
        while true {
            if timeoutMilliseconds > 0 {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let r = poll(&p, 1, Int32(clamping: timeoutMilliseconds))
                if r < 0 {
                    if errno == EINTR { continue }
                    throw .system("poll")
                }
                if r == 0 { return .timeout }
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 {
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: return .timeout
                case ENOBUFS: return .overrun
                default: throw .system("recv")
                }
            }
            return .data(Array(buffer[0..<n]))
        }
    }
}

/// Test support: drops CAP_NET_ADMIN from the calling thread only (capabilities are per thread),
/// so a test can check what an unprivileged caller gets. Returns false when it could not.
func dropNetAdminForCurrentThread() -> Bool {
    cnf_drop_effective_capability(12 /* CAP_NET_ADMIN */) == 0
}
