import CNetfilter
#if canImport(Glibc)
import Glibc
#endif

/// Where netlink messages go: the kernel (`KernelTransport`) or a test double (`RecordingTransport`).
///
/// The client builds complete messages (headers, sequence numbers, flags); a transport only
/// moves bytes and reports what came back, so tests can fake the kernel at this boundary.
public protocol NetlinkTransport: AnyObject {
    /// Sends `messages` (batch begin ... batch end) in one write and returns the acks for every
    /// message that asked for one (NLM_F_ACK), in the order they arrived.
    func sendBatch(_ messages: [NetlinkMessage]) throws(NetlinkError) -> [NetlinkAck]
    /// Sends one request (a dump or a single GET) and returns the reply messages, without the
    /// final NLMSG_DONE or ack. An error reply throws, carrying the kernel's errno.
    func request(_ message: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage]
}

/// The real transport: a NETLINK_NETFILTER socket via libmnl, with extended acks enabled.
public final class KernelTransport: NetlinkTransport {
    private let socket: OpaquePointer
    private let portID: UInt32
    private var buffer: [UInt8]
    private var sendBufferSize = 0

    /// Opens the socket. `networkNamespace` is a name under /run/netns (as `ip netns` makes)
    /// or a path such as /proc/PID/ns/net; the socket stays in that namespace for its lifetime.
    /// `timeoutSeconds` bounds every wait for the kernel's answer.
    public init(networkNamespace: String? = nil, timeoutSeconds: Int = 30) throws(NetlinkError) {
        var restoreFD: Int32 = -1
        if let ns = networkNamespace {
            let path = ns.hasPrefix("/") ? ns : "/run/netns/\(ns)"
            restoreFD = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
            guard restoreFD >= 0 else { throw .system("open /proc/thread-self/ns/net") }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let e = NetlinkError.system("open \(path)")
                close(restoreFD)
                throw e
            }
            let r = cnf_setns(fd, cnf_clone_newnet())
            let e = errno
            close(fd)
            guard r == 0 else {
                close(restoreFD)
                throw NetlinkError.system("setns \(path)", errno: e)
            }
        }
        // Sockets keep the namespace they were created in; the thread goes back at once.
        defer {
            if restoreFD >= 0 {
                let r = cnf_setns(restoreFD, cnf_clone_newnet())
                precondition(r == 0, "cannot return to the original network namespace")
                close(restoreFD)
            }
        }
        guard let nl = mnl_socket_open(NETLINK_NETFILTER) else { throw .system("socket(NETLINK_NETFILTER)") }
        guard mnl_socket_bind(nl, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let e = NetlinkError.system("bind")
            mnl_socket_close(nl)
            throw e
        }
        var on: Int32 = 1
        // Extended acks carry the kernel's reason; capped acks keep each ack small.
        _ = mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        let fd = mnl_socket_get_fd(nl)
        var rcv: Int32 = 4 << 20
        // Many acks arrive at once after a big batch; make room (FORCE needs CAP_NET_ADMIN).
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, socklen_t(MemoryLayout<Int32>.size))
        }
        _ = cnf_set_receive_timeout(fd, timeoutSeconds)
        socket = nl
        portID = mnl_socket_get_portid(nl)
        buffer = [UInt8](repeating: 0, count: 1 << 20)
    }

    deinit { mnl_socket_close(socket) }

    private func send(_ bytes: [UInt8]) throws(NetlinkError) {
        if bytes.count > sendBufferSize {
            var size = Int32(clamping: bytes.count + 4096)
            let fd = mnl_socket_get_fd(socket)
            if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
                _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            sendBufferSize = bytes.count
        }
        let n = bytes.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw .system("sendto") }
    }

    private func receive() throws(NetlinkError) -> [NetlinkMessage] {
        while true {
            let n = buffer.withUnsafeMutableBytes { mnl_socket_recvfrom(socket, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw NetlinkError(kind: .timeout, errno: ETIMEDOUT, operation: "receive",
                                       detail: "no answer from the kernel")
                }
                if errno == ENOBUFS {
                    throw NetlinkError(kind: .system, errno: ENOBUFS, operation: "receive",
                                       detail: "the kernel's answers overflowed the receive buffer, so whether the "
                                           + "batch was applied is unknown; check with `dronewall status`")
                }
                throw NetlinkError.system("recvfrom")
            }
            return try NetlinkMessage.split(Array(buffer.prefix(n)))
        }
    }

    /// Receive buffer size set so far (bytes asked for; the kernel doubles it for overhead).
    private var receiveBufferSize = 4 << 20

    /// Every ack is its own socket buffer (about 1 KiB of kernel memory with overhead), and they
    /// all arrive after the batch ran: size the receive buffer for all of them, as nft does,
    /// or the socket overflows (ENOBUFS) and acks of a committed batch are lost.
    private func reserveReceiveBuffer(forAcks count: Int) {
        let needed = count * 1024 + (1 << 20)
        guard needed > receiveBufferSize else { return }
        var size = Int32(clamping: needed)
        let fd = mnl_socket_get_fd(socket)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        receiveBufferSize = needed
    }

    public func sendBatch(_ messages: [NetlinkMessage]) throws(NetlinkError) -> [NetlinkAck] {
        reserveReceiveBuffer(forAcks: messages.count)
        var bytes: [UInt8] = []
        for m in messages {
            bytes += m.bytes
            bytes += [UInt8](repeating: 0, count: (4 - m.bytes.count % 4) % 4)
        }
        try send(bytes)
        // The kernel answers every message that asked for an ack once the whole batch has run.
        // Kernels since 6.4 also answer batch begin and end; older ones answer them only when
        // refusing the whole batch (e.g. EPERM, reported against batch begin). So we wait for
        // every object message, and for batch end only once batch begin was answered.
        let begin = messages.first { $0.kind == .batchBegin }
        let end = messages.last { $0.kind == .batchEnd }
        var pending = Set(messages.filter { $0.wantsAck && $0.kind != .batchBegin && $0.kind != .batchEnd }
            .map { $0.sequence })
        var endPending = false, endSeen = false
        var acks: [NetlinkAck] = []
        while !pending.isEmpty || endPending {
            for reply in try receive() where reply.kind == .error {
                let ack = try NetlinkAck(errorMessage: reply)
                if ack.sequence == begin?.sequence {
                    acks.append(ack)
                    if !ack.isSuccess { return acks }
                    endPending = end?.wantsAck == true && !endSeen
                } else if ack.sequence == end?.sequence {
                    acks.append(ack)
                    endSeen = true
                    endPending = false
                } else if pending.remove(ack.sequence) != nil {
                    acks.append(ack)
                    // An aborted batch is not answered at batch end.
                    if !ack.isSuccess { endPending = false; endSeen = true }
                } // else: a stale answer to an earlier request
            }
        }
        return acks
    }

    public func request(_ message: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage] {
        try send(message.bytes)
        let isDump = message.flags & UInt16(NLM_F_DUMP) == UInt16(NLM_F_DUMP)
        var replies: [NetlinkMessage] = []
        var interrupted = false
        while true {
            for reply in try receive() where reply.sequence == message.sequence {
                switch reply.kind {
                case .done:
                    if interrupted {
                        throw NetlinkError(kind: .protocolViolation, errno: EINTR, operation: "dump",
                                           detail: "dump interrupted by a concurrent change")
                    }
                    return replies
                case .error:
                    let ack = try NetlinkAck(errorMessage: reply)
                    guard ack.isSuccess else {
                        throw NetlinkError(kind: NetlinkError.kind(forErrno: ack.errno, default: .rejected),
                                           errno: ack.errno, extendedAck: ack.extendedMessage, operation: "request")
                    }
                    return replies
                default:
                    if reply.flags & UInt16(NLM_F_DUMP_INTR) != 0 { interrupted = true }
                    replies.append(reply)
                    if !isDump && message.flags & UInt16(NLM_F_ACK) == 0 { return replies }
                }
            }
        }
    }
}

/// Test support: drops CAP_NET_ADMIN from the calling thread only (capabilities are per thread),
/// so a test can check what an unprivileged caller gets. Returns false when it could not.
func dropNetAdminForCurrentThread() -> Bool {
    cnf_drop_effective_capability(12 /* CAP_NET_ADMIN */) == 0
}
