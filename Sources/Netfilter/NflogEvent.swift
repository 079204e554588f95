/// What the NFLOG reader hands out: plain values, no C types.

/// One packet the kernel logged to an NFLOG group.
public struct NflogEvent: Sendable, Hashable {
    /// The NFLOG group (`log group N`) the packet was logged to.
    public var group: UInt16
    /// NFULA_SEQ: the instance's per-packet counter, used to detect lost events.
    public var sequence: UInt32?
    /// NFULA_PREFIX without the trailing NUL (`log prefix "..."`).
    public var prefix: String
    /// NFULA_MARK: the packet mark (the kernel omits it when it is 0).
    public var packetMark: UInt32?
    /// CTA_MARK inside NFULA_CT, when the reader asked for conntrack data and the packet had a mark.
    public var conntrackMark: UInt32?
    /// NFULA_TIMESTAMP as microseconds since the epoch (prerouting, input and forward hooks only).
    public var timestampMicros: UInt64?
    /// NFULA_IFINDEX_INDEV.
    public var inputInterfaceIndex: UInt32?
    /// NFULA_IFINDEX_OUTDEV.
    public var outputInterfaceIndex: UInt32?
    /// NFULA_HWADDR: the link-layer source address (6 bytes for Ethernet), input side only.
    public var hardwareSource: [UInt8]?
    /// NFULA_UID: file-system uid of the sending socket's owner (output-hook packets with a socket).
    public var uid: UInt32?
    /// The IP and transport headers decoded from NFULA_PAYLOAD; nil if the payload is missing or not IP.
    public var packet: PacketSummary?

    public init(group: UInt16, sequence: UInt32? = nil, prefix: String = "", packetMark: UInt32? = nil,
                conntrackMark: UInt32? = nil, timestampMicros: UInt64? = nil, inputInterfaceIndex: UInt32? = nil,
                outputInterfaceIndex: UInt32? = nil, hardwareSource: [UInt8]? = nil, uid: UInt32? = nil,
                packet: PacketSummary? = nil) {
        self.group = group
        self.sequence = sequence
        self.prefix = prefix
        self.packetMark = packetMark
        self.conntrackMark = conntrackMark
        self.timestampMicros = timestampMicros
        self.inputInterfaceIndex = inputInterfaceIndex
        self.outputInterfaceIndex = outputInterfaceIndex
        self.hardwareSource = hardwareSource
        self.uid = uid
        self.packet = packet
    }
}

/// The network and transport headers of a logged packet.
public struct PacketSummary: Sendable, Hashable {
    public enum Proto: Sendable, Hashable {
        case tcp, udp, icmp, icmpv6
        /// Any other IP protocol / IPv6 next header, by number.
        case other(UInt8)

        /// The IANA protocol number.
        public var number: UInt8 {
            switch self {
            case .tcp: 6
            case .udp: 17
            case .icmp: 1
            case .icmpv6: 58
            case .other(let n): n
            }
        }

        public init(number: UInt8) {
            switch number {
            case 6: self = .tcp
            case 17: self = .udp
            case 1: self = .icmp
            case 58: self = .icmpv6
            default: self = .other(number)
            }
        }
    }

    public var isIPv6: Bool
    /// The transport protocol (for IPv6, after skipping extension headers).
    public var proto: Proto
    /// Source address, 4 or 16 bytes in network order.
    public var source: [UInt8]
    /// Destination address, 4 or 16 bytes in network order.
    public var destination: [UInt8]
    /// TCP/UDP ports; nil for other protocols, non-first fragments and a truncated transport header.
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?
    /// ICMP/ICMPv6 type and code.
    public var icmpType: UInt8?
    public var icmpCode: UInt8?
    /// IP total length from the header (IPv6: 40 + payload length), not the copied length.
    public var length: Int

    public init(isIPv6: Bool, proto: Proto, source: [UInt8], destination: [UInt8], sourcePort: UInt16? = nil,
                destinationPort: UInt16? = nil, icmpType: UInt8? = nil, icmpCode: UInt8? = nil, length: Int) {
        self.isIPv6 = isIPv6
        self.proto = proto
        self.source = source
        self.destination = destination
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.icmpType = icmpType
        self.icmpCode = icmpCode
        self.length = length
    }
}

/// Why a netlink message could not be decoded as an NFLOG packet event.
public struct NflogDecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// Fewer bytes than the netlink and nfgenmsg headers need.
        case truncatedHeader
        /// nlmsg_len disagrees with the bytes given.
        case badMessageLength
        /// Not an NFULNL_MSG_PACKET message of the NFLOG subsystem.
        case notAPacket(type: UInt16)
        /// An attribute's length is below its header size or runs past the message.
        case badAttributeLength
        /// A known attribute has the wrong size for its type.
        case badAttributeSize(type: UInt16)
        /// The mandatory NFULA_PACKET_HDR attribute is absent.
        case missingPacketHeader
    }

    public var reason: Reason
    /// Byte offset in the message where decoding stopped.
    public var offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch reason {
        case .truncatedHeader: what = "message shorter than the netlink + nfgenmsg headers"
        case .badMessageLength: what = "nlmsg_len does not match the message"
        case .notAPacket(let t): what = "message type 0x\(String(t, radix: 16)) is not an NFLOG packet"
        case .badAttributeLength: what = "attribute length out of bounds"
        case .badAttributeSize(let t): what = "attribute \(t) has the wrong size"
        case .missingPacketHeader: what = "no NFULA_PACKET_HDR attribute"
        }
        return "NFLOG decode failed at byte \(offset): \(what)"
    }
}

/// Counters of an `NflogReader` since it was opened.
public struct NflogStats: Sendable, Hashable {
    /// Events decoded and returned.
    public var events: UInt64 = 0
    /// Messages that could not be decoded (skipped).
    public var malformed: UInt64 = 0
    /// Times the socket reported ENOBUFS: the kernel dropped messages because the receive buffer was full.
    public var enobufs: UInt64 = 0
    /// Events lost, inferred from jumps in NFULA_SEQ (includes those dropped at an ENOBUFS, once a later
    /// event arrives).
    public var sequenceGaps: UInt64 = 0
    /// The socket's receive buffer as the kernel reports it (SO_RCVBUF), after any growth.
    public var receiveBufferBytes: Int = 0
    /// When the latest sequence gap followed an ENOBUFS: the wall time (µs) of that overrun, when the
    /// events went missing; the gap itself is only seen at the next event, maybe long after a flood.
    /// nil when the latest gap had no overrun before it.
    public var gapOverrunMicros: Int64? = nil

    public init() {}
}
