#if canImport(Glibc)
import Glibc
#endif

/// Reads the packets the kernel logs to one NFLOG group (`log group N` in nftables).
///
/// Binding: the reader binds only its group. It does not send NFULNL_CFG_CMD_PF_UNBIND/PF_BIND (what
/// ulogd's `unbind` option does): they are not obsolete, they set the namespace's default logger for a
/// protocol family, which nft's `log group N` does not use (it asks for the NFLOG logger by type), and
/// PF_UNBIND would detach the syslog logger that other tables' plain `log` rules rely on.
public final class NflogReader {
    /// The group this reader is bound to.
    public let group: UInt16
    /// True when the kernel accepted NFULNL_CFG_F_CONNTRACK, so events can carry the conntrack mark.
    public private(set) var conntrackEnabled = false

    private let socket: NflogSocket
    private let tuning: NflogTuning
    private var requestedReceiveBuffer: Int
    private var nextSequence: UInt32 = 0
    private var messageSequence: UInt32 = 0
    private var pending: [NflogEvent] = []
    private var counters = NflogStats()
    /// Time of the first ENOBUFS since the last event, for `gapOverrunMicros`.
    private var overrunSinceEvent: Int64?

    /// Binds `group` in `networkNamespace` (a name under /run/netns or a path such as /proc/PID/ns/net),
    /// asks for packet copies of the IP + transport headers, sequence numbers and conntrack data (falling
    /// back without conntrack if the kernel refuses), and sets a large receive buffer.
    public convenience init(group: UInt16, networkNamespace: String? = nil,
                            receiveBufferBytes: Int = 4 << 20) throws(NetlinkError) {
        // The kernel's batches are at most 128 KiB (NFULNL nlbufsiz), plus one oversized packet.
        let socket = try NetlinkSocket(networkNamespace: networkNamespace, receiveCapacity: 256 << 10)
        try self.init(group: group, socket: socket, receiveBufferBytes: receiveBufferBytes, tuning: NflogTuning())
    }

    /// The seam for tests: any `NflogSocket` (the kernel's or a scripted fake).
    package init(group: UInt16, socket: NflogSocket, receiveBufferBytes: Int, tuning: NflogTuning) throws(NetlinkError) {
        self.group = group
        self.socket = socket
        self.tuning = tuning
        requestedReceiveBuffer = max(receiveBufferBytes, 64 << 10)
        socket.setReceiveBuffer(requestedReceiveBuffer)
        try bind()
        counters.receiveBufferBytes = socket.receiveBufferBytes()
    }

    /// Counters since the reader was opened (events, malformed, ENOBUFS, events lost by sequence gaps).
    public var stats: NflogStats { counters }

    /// A file descriptor to poll on, for callers that multiplex.
    public var fileDescriptor: Int32 { socket.fileDescriptor }

    /// Waits up to `timeoutMilliseconds` and returns what arrived (maybe empty). On ENOBUFS: counts it,
    /// doubles the receive buffer up to a cap (as ulogd2 does), and carries on.
    public func read(timeoutMilliseconds: Int) throws(NetlinkError) -> [NflogEvent] {
        var events = pending
        pending = []
        var wait = events.isEmpty ? max(timeoutMilliseconds, 0) : 0
        // Drain what is queued, bounded so that one busy group cannot starve the caller.
        for _ in 0..<tuning.receivesPerRead {
            switch try socket.receive(timeoutMilliseconds: wait) {
            case .timeout:
                return events
            case .overrun:
                overrun()
            case .data(let bytes):
                absorb(bytes, into: &events, waitingFor: nil)
            }
            wait = 0
        }
        return events
    }

    // MARK: - setup

    private func bind() throws(NetlinkError) {
        // A group is owned by one netlink port; a dead owner's binding goes with its socket. Unbinding
        // first clears a binding of this port and tells "another process owns the group" (EPERM here)
        // apart from a missing capability before we try to bind.
        let unbind = NflogConfig.message(group: group, sequence: nextMessageSequence(),
                                         command: NfnetlinkLog.unbind)
        let unbindErrno = try exchange(unbind)
        if unbindErrno == EPERM, let owner = socket.groupOwner(group) {
            throw NetlinkError(kind: .rejected, errno: EBUSY, operation: "bind NFLOG group \(group)",
                               detail: "group is bound by another process (netlink port \(owner)); is another "
                                   + "dronewalld or ulogd running?")
        }
        guard unbindErrno == 0 || unbindErrno == ENODEV else {
            throw failure(unbindErrno, "unbind NFLOG group \(group)")
        }
        // One message binds and configures, so no packet is logged with default settings.
        var flags = NfnetlinkLog.flagSequence | NfnetlinkLog.flagConntrack
        var retriedAfterModuleLoad = false
        while true {
            let config = NflogConfig.message(group: group, sequence: nextMessageSequence(),
                                             command: NfnetlinkLog.bind,
                                             copyRange: tuning.copyRange, queueThreshold: tuning.queueThreshold,
                                             flushTimeoutCentiseconds: tuning.flushTimeoutCentiseconds,
                                             kernelBufferBytes: tuning.kernelBufferBytes, flags: flags)
            let e = try exchange(config)
            if e == 0 { break }
            let withConntrack = flags & NfnetlinkLog.flagConntrack != 0
            // EAGAIN: the kernel has just loaded the conntrack netlink module; asking again works.
            if e == EAGAIN && withConntrack && !retriedAfterModuleLoad {
                retriedAfterModuleLoad = true
                continue
            }
            if withConntrack && e != EPERM && e != EACCES {
                flags &= ~NfnetlinkLog.flagConntrack
                continue
            }
            throw failure(e, "bind NFLOG group \(group)")
        }
        conntrackEnabled = flags & NfnetlinkLog.flagConntrack != 0
    }

    private func failure(_ e: Int32, _ operation: String) -> NetlinkError {
        NetlinkError(kind: NetlinkError.kind(forErrno: e, default: .rejected), errno: e, operation: operation)
    }

    private func nextMessageSequence() -> UInt32 {
        messageSequence &+= 1
        return messageSequence
    }

    /// Sends one config message and returns the errno of its ack (0 = success). Packets that arrive in
    /// the meantime are kept for the next `read`.
    private func exchange(_ message: [UInt8]) throws(NetlinkError) -> Int32 {
        try socket.send(message)
        let sequence = message.host32(8)
        var waited = 0
        while waited < tuning.ackTimeoutMilliseconds {
            switch try socket.receive(timeoutMilliseconds: 100) {
            case .timeout:
                waited += 100
            case .overrun:
                overrun()
            case .data(let bytes):
                if let e = absorb(bytes, into: &pending, waitingFor: sequence) { return e }
            }
        }
        throw NetlinkError(kind: .timeout, errno: ETIMEDOUT, operation: "configure NFLOG group \(group)",
                           detail: "no answer from the kernel")
    }

    /// Decodes the packet messages in `bytes` into `events`, updating the counters; returns the errno of
    /// the ack for `waitingFor` if one is in the buffer.
    @discardableResult
    private func absorb(_ bytes: [UInt8], into events: inout [NflogEvent], waitingFor: UInt32?) -> Int32? {
        var ackErrno: Int32? = nil
        let (messages, malformedAt) = NetlinkMessage.ranges(in: bytes)
        if malformedAt != nil { counters.malformed += 1 }
        for m in messages {
            switch bytes.host16(m.lowerBound + 4) {
            case Netlink.error:
                if let want = waitingFor, let ack = try? NetlinkAck(errorMessage: NetlinkMessage(bytes: Array(bytes[m]))),
                   ack.sequence == want {
                    ackErrno = ack.errno
                }
            case Netlink.noop, Netlink.done:
                break
            default:
                switch NflogDecoder.decode(bytes, start: m.lowerBound, end: m.upperBound) {
                case .success(let event):
                    account(event)
                    events.append(event)
                case .failure:
                    counters.malformed += 1
                }
            }
        }
        return ackErrno
    }

    /// Counts the events the kernel numbered but we never saw. The kernel numbers each packet of the
    /// instance from 0 as it queues it, so a jump is exactly the number lost (e.g. dropped with the rest of a
    /// batch at ENOBUFS).
    private func account(_ event: NflogEvent) {
        counters.events += 1
        guard let s = event.sequence else { return }
        let jump = s &- nextSequence
        if jump < 1 << 31 && jump > 0 {
            counters.sequenceGaps += UInt64(jump)
            counters.gapOverrunMicros = overrunSinceEvent
        }
        overrunSinceEvent = nil
        nextSequence = s &+ 1
    }

    private func overrun() {
        counters.enobufs += 1
        if overrunSinceEvent == nil {
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            overrunSinceEvent = Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
        }
        growReceiveBuffer()
    }

    private func growReceiveBuffer() {
        let cap = max(tuning.maximumReceiveBufferBytes, requestedReceiveBuffer)
        guard requestedReceiveBuffer < cap else { return }
        requestedReceiveBuffer = min(requestedReceiveBuffer * 2, cap)
        socket.setReceiveBuffer(requestedReceiveBuffer)
        counters.receiveBufferBytes = socket.receiveBufferBytes()
    }
}

/// The knobs of an NFLOG instance, with the reader's defaults.
package struct NflogTuning {
    /// Bytes of each packet copied: IPv6 + extension headers + TCP header fit in 128.
    var copyRange: UInt32 = 128
    /// The kernel sends a batch once this many packets are queued ...
    var queueThreshold: UInt32 = 64
    /// ... or after this long (1/100 s), whichever comes first.
    var flushTimeoutCentiseconds: UInt32 = 5
    /// Size of the kernel's batch buffer (NFULA_CFG_NLBUFSIZ; the kernel allows up to 128 KiB).
    var kernelBufferBytes: UInt32 = 128 << 10
    /// Where ENOBUFS stops doubling the socket receive buffer.
    var maximumReceiveBufferBytes = 64 << 20
    /// Receive calls per `read` at most.
    var receivesPerRead = 256
    var ackTimeoutMilliseconds = 5000
    package init() {}
}

/// NFULNL_MSG_CONFIG requests as bytes (pure, so tests can check them).
enum NflogConfig {
    /// One config message for `group`; nil values are left out.
    static func message(group: UInt16, sequence: UInt32, command: UInt8? = nil, copyRange: UInt32? = nil,
                        queueThreshold: UInt32? = nil, flushTimeoutCentiseconds: UInt32? = nil,
                        kernelBufferBytes: UInt32? = nil, flags: UInt16? = nil) -> [UInt8] {
        typealias A = NfnetlinkLog.ConfigAttribute
        var b: [UInt8] = []
        b.appendHost32(0) // length, set below
        b.appendHost16(NfnetlinkLog.config)
        b.appendHost16(Netlink.request | Netlink.ack)
        b.appendHost32(sequence)
        b.appendHost32(0) // port id: the kernel's
        b += [UInt8(AF_UNSPEC), Nfnetlink.version0, UInt8(group >> 8), UInt8(group & 0xFF)]
        if let command { b.appendAttribute(A.command.rawValue, [command]) }
        if let copyRange {
            // struct nfulnl_msg_config_mode (packed): be32 copy_range, u8 copy_mode, u8 pad.
            b.appendAttribute(A.mode.rawValue, bigEndianBytes(copyRange) + [NfnetlinkLog.copyPacket, 0])
        }
        if let kernelBufferBytes { b.appendAttribute(A.bufferSize.rawValue, bigEndianBytes(kernelBufferBytes)) }
        if let flushTimeoutCentiseconds { b.appendAttribute(A.timeout.rawValue, bigEndianBytes(flushTimeoutCentiseconds)) }
        if let queueThreshold { b.appendAttribute(A.queueThreshold.rawValue, bigEndianBytes(queueThreshold)) }
        if let flags { b.appendAttribute(A.flags.rawValue, [UInt8(flags >> 8), UInt8(flags & 0xFF)]) }
        let length = UInt32(b.count)
        for i in 0..<4 { b[i] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(i))) }
        return b
    }
}

/// The message boundary of the reader: the kernel's NETLINK_NETFILTER socket or a test fake.
package protocol NflogSocket: AnyObject {
    var fileDescriptor: Int32 { get }
    func send(_ bytes: [UInt8]) throws(NetlinkError)
    func receive(timeoutMilliseconds: Int) throws(NetlinkError) -> NetlinkReceive
    /// SO_RCVBUF as the kernel reports it.
    func receiveBufferBytes() -> Int
    func setReceiveBuffer(_ bytes: Int)
    /// The netlink port bound to `group` in the socket's namespace, if it can be told.
    func groupOwner(_ group: UInt16) -> UInt32?
}

/// The kernel's side of the boundary: the module's one netlink socket.
extension NetlinkSocket: NflogSocket {
    func groupOwner(_ group: UInt16) -> UInt32? {
        // /proc/net/netfilter/nfnetlink_log of the socket's namespace: "group portid qlen mode range ...".
        let text = readNamespaceFile("/proc/thread-self/net/netfilter/nfnetlink_log") ?? ""
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, UInt16(fields[0]) == group { return UInt32(fields[1]) }
        }
        return nil
    }
}
