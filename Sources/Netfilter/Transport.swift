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
    /// Runs `body` at once, holding the transport for every exchange it makes, or returns nil
    /// without running it when another thread is using the transport. For a thread that must
    /// not wait (an event loop): it can hand the work to a thread that may.
    func ifIdle<T>(_ body: () -> T) -> T?
}

extension NetlinkTransport {
    /// A transport that one thread uses is always idle for it.
    public func ifIdle<T>(_ body: () -> T) -> T? { body() }
}

/// The real transport: a `NetlinkSocket` with extended acks enabled.
public final class KernelTransport: NetlinkTransport {
    private let socket: NetlinkSocket
    private let timeoutMilliseconds: Int
    private var sendBufferSize = 0
    /// Receive buffer size set so far (bytes asked for; the kernel doubles it for overhead).
    private var receiveBufferSize = 4 << 20

    /// Opens the socket. `networkNamespace` is a name under /run/netns (as `ip netns` makes)
    /// or a path such as /proc/PID/ns/net; the socket stays in that namespace for its lifetime.
    /// `timeoutSeconds` bounds every wait for the kernel's answer.
    public init(networkNamespace: String? = nil, timeoutSeconds: Int = 30) throws(NetlinkError) {
        socket = try NetlinkSocket(networkNamespace: networkNamespace, receiveCapacity: 1 << 20)
        socket.enableExtendedAcks()
        // Many acks arrive at once after a big batch; make room.
        socket.setReceiveBuffer(receiveBufferSize)
        timeoutMilliseconds = timeoutSeconds * 1000
    }

    /// The socket's port id: the kernel names it as the sender of this transport's changes.
    public var portID: UInt32 { socket.portID }

    private func send(_ bytes: [UInt8]) throws(NetlinkError) {
        if bytes.count > sendBufferSize {
            socket.setSendBuffer(bytes.count + 4096)
            sendBufferSize = bytes.count
        }
        try socket.send(bytes)
    }

    private func receive() throws(NetlinkError) -> [NetlinkMessage] {
        switch try socket.receive(timeoutMilliseconds: timeoutMilliseconds) {
        case .data(let bytes):
            return try NetlinkMessage.split(bytes)
        case .timeout:
            throw NetlinkError(kind: .timeout, errno: ETIMEDOUT, operation: "receive", detail: "no answer from the kernel")
        case .overrun:
            throw NetlinkError(kind: .system, errno: ENOBUFS, operation: "receive",
                               detail: "the kernel's answers overflowed the receive buffer, so whether the "
                                   + "batch was applied is unknown; check with `dronewall status`")
        }
    }

    /// Every ack is its own socket buffer (about 1 KiB of kernel memory with overhead), and they
    /// all arrive after the batch ran: size the receive buffer for all of them, as nft does,
    /// or the socket overflows (ENOBUFS) and acks of a committed batch are lost.
    private func reserveReceiveBuffer(forAcks count: Int) {
        let needed = count * 1024 + (1 << 20)
        guard needed > receiveBufferSize else { return }
        socket.setReceiveBuffer(needed)
        receiveBufferSize = needed
    }

    public func sendBatch(_ messages: [NetlinkMessage]) throws(NetlinkError) -> [NetlinkAck] {
        reserveReceiveBuffer(forAcks: messages.count)
        try send(NetlinkMessage.batchBytes(messages))
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
        let isDump = message.flags & Netlink.dump == Netlink.dump
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
                    if reply.flags & Netlink.dumpInterrupted != 0 { interrupted = true }
                    replies.append(reply)
                    if !isDump && message.flags & Netlink.ack == 0 { return replies }
                }
            }
        }
    }
}

extension NetlinkMessage {
    /// `messages` as one write puts them on the socket: each padded to 4 bytes (NLMSG_ALIGN).
    public static func batchBytes(_ messages: [NetlinkMessage]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(messages.reduce(0) { $0 + ($1.bytes.count + 3) & ~3 })
        for m in messages {
            bytes += m.bytes
            bytes += [UInt8](repeating: 0, count: (4 - m.bytes.count % 4) % 4)
        }
        return bytes
    }
}

/// One transport for several threads: each exchange (a batch and its acks, a request and its
/// replies) holds the socket alone. The daemon's main loop and its resolver's learner write the
/// table through one socket, the one that owns the table (see `TableOwnership`).
public final class SharedTransport: NetlinkTransport, @unchecked Sendable {
    private let inner: NetlinkTransport
    /// Recursive: `ifIdle` holds it around exchanges that take it again.
    private var mutex = pthread_mutex_t()

    public init(_ inner: NetlinkTransport) {
        self.inner = inner
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(&mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
    }

    public func ifIdle<T>(_ body: () -> T) -> T? {
        guard pthread_mutex_trylock(&mutex) == 0 else { return nil }
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    deinit { pthread_mutex_destroy(&mutex) }

    private func exclusively<T>(_ body: () throws(NetlinkError) -> T) throws(NetlinkError) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }

    public func sendBatch(_ messages: [NetlinkMessage]) throws(NetlinkError) -> [NetlinkAck] {
        try exclusively { () throws(NetlinkError) in try inner.sendBatch(messages) }
    }

    public func request(_ message: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage] {
        try exclusively { () throws(NetlinkError) in try inner.request(message) }
    }
}
