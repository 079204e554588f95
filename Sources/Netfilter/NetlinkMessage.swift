#if canImport(Glibc)
import Glibc
#endif

/// Netlink messages and acks as plain bytes: the boundary where tests fake the kernel.

/// What a message creates, deletes or reads, for error reports.
public struct MessageSubject: Sendable, Hashable, CustomStringConvertible {
    /// A short description, e.g. `rule 3 in chain drone_x` or `set endpoints_v4 element 192.0.2.1`.
    public var description: String
    /// The IR origin (config or catalogue place) of the object, if known.
    public var origin: String?

    public init(_ description: String, origin: String? = nil) {
        self.description = description
        self.origin = origin
    }
}

/// The kind of an nfnetlink message dronewall sends (nf_tables subsystem or batch control).
public enum MessageKind: Sendable, Hashable {
    case batchBegin, batchEnd
    case newTable, getTable, deleteTable
    case newChain, getChain, deleteChain
    case newRule, getRule, deleteRule
    case newSet, getSet, deleteSet
    case newSetElement, getSetElement, deleteSetElement
    case error, done
    case other(UInt16)

    init(rawType: UInt16) {
        switch rawType {
        case 0x2: self = .error
        case 0x3: self = .done
        case 0x10: self = .batchBegin
        case 0x11: self = .batchEnd
        default:
            guard rawType >> 8 == 10 else { self = .other(rawType); return } // NFNL_SUBSYS_NFTABLES
            let all: [MessageKind] = [.newTable, .getTable, .deleteTable, .newChain, .getChain, .deleteChain,
                                      .newRule, .getRule, .deleteRule, .newSet, .getSet, .deleteSet,
                                      .newSetElement, .getSetElement, .deleteSetElement]
            let msg = Int(rawType & 0xFF)
            self = msg < all.count ? all[msg] : .other(rawType)
        }
    }
}

/// One netlink message: its raw bytes (header included) and what it is about.
public struct NetlinkMessage: Sendable, Hashable {
    /// The complete message, `struct nlmsghdr` first, in host byte order as the kernel expects.
    public var bytes: [UInt8]
    /// The object the message is about; nil for batch control and dump requests.
    public var subject: MessageSubject?
    /// Subjects of the message's list items in order (set elements), so that the kernel's
    /// error offset can name the one element it refused.
    public var parts: [MessageSubject]

    public init(bytes: [UInt8], subject: MessageSubject? = nil, parts: [MessageSubject] = []) {
        precondition(bytes.count >= 16, "a netlink message has a 16-byte header")
        self.bytes = bytes
        self.subject = subject
        self.parts = parts
    }

    public var length: UInt32 { readU32(0) }
    public var rawType: UInt16 { readU16(4) }
    public var flags: UInt16 { readU16(6) }
    public var sequence: UInt32 {
        get { readU32(8) }
        set { writeU32(8, newValue) }
    }
    public var kind: MessageKind { MessageKind(rawType: rawType) }
    /// True when the sender asked the kernel to acknowledge this message (NLM_F_ACK).
    public var wantsAck: Bool { flags & 0x4 != 0 }
    /// The nfgenmsg family byte (e.g. 1 for inet), for nfnetlink messages.
    public var family: UInt8 { bytes.count > 16 ? bytes[16] : 0 }

    func readU16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
    func readU32(_ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }
    mutating func writeU32(_ at: Int, _ v: UInt32) {
        for i in 0..<4 { bytes[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
    }

    /// Splits a buffer holding several netlink messages (as read from a socket).
    public static func split(_ buffer: [UInt8]) throws(NetlinkError) -> [NetlinkMessage] {
        var out: [NetlinkMessage] = []
        var offset = 0
        while offset + 16 <= buffer.count {
            let len = Int(UInt32(buffer[offset]) | UInt32(buffer[offset + 1]) << 8
                          | UInt32(buffer[offset + 2]) << 16 | UInt32(buffer[offset + 3]) << 24)
            guard len >= 16, offset + len <= buffer.count else {
                throw NetlinkError(kind: .protocolViolation, errno: EPROTO, operation: "parse reply",
                                   detail: "truncated netlink message at offset \(offset)")
            }
            out.append(NetlinkMessage(bytes: Array(buffer[offset..<(offset + len)])))
            offset += (len + 3) & ~3
        }
        return out
    }
}

/// The kernel's answer to one message: success (errno 0) or an error with optional extended ack.
public struct NetlinkAck: Sendable, Hashable {
    public var sequence: UInt32
    /// 0 on success, else a positive errno value.
    public var errno: Int32
    /// The kernel's extended-ack text (NLMSGERR_ATTR_MSG), if any.
    public var extendedMessage: String?
    /// Byte offset of the offending attribute in the failing message (NLMSGERR_ATTR_OFFS), if any.
    public var errorOffset: UInt32?

    public init(sequence: UInt32, errno: Int32 = 0, extendedMessage: String? = nil, errorOffset: UInt32? = nil) {
        self.sequence = sequence
        self.errno = errno
        self.extendedMessage = extendedMessage
        self.errorOffset = errorOffset
    }

    public var isSuccess: Bool { errno == 0 }

    /// Decodes an NLMSG_ERROR message (with NETLINK_EXT_ACK TLVs if present).
    public init(errorMessage m: NetlinkMessage) throws(NetlinkError) {
        guard m.kind == .error, m.bytes.count >= 20 else {
            throw NetlinkError(kind: .protocolViolation, errno: EPROTO, operation: "parse ack",
                               detail: "not an NLMSG_ERROR message")
        }
        let code = Int32(bitPattern: m.readU32(16))
        // The echoed request header tells us which message this answers.
        let echoedSeq = m.bytes.count >= 36 ? m.readU32(28) : m.sequence
        self.init(sequence: echoedSeq, errno: -code)
        // NLM_F_CAPPED (0x100): only the echoed header; NLM_F_ACK_TLVS (0x200): TLVs follow.
        guard m.flags & 0x200 != 0, m.bytes.count >= 36 else { return }
        var tlv = 20 + 16
        if m.flags & 0x100 == 0 {
            let echoedLen = Int(m.readU32(20))
            tlv = 20 + ((echoedLen + 3) & ~3)
        }
        while tlv + 4 <= m.bytes.count {
            let len = Int(m.readU16(tlv)), type = m.readU16(tlv + 2) & 0x3FFF
            guard len >= 4, tlv + len <= m.bytes.count else { break }
            let payload = m.bytes[(tlv + 4)..<(tlv + len)]
            switch type {
            case 1: // NLMSGERR_ATTR_MSG
                extendedMessage = String(decoding: payload.prefix { $0 != 0 }, as: UTF8.self)
            case 2 where payload.count >= 4: // NLMSGERR_ATTR_OFFS
                errorOffset = m.readU32(tlv + 4)
            default: break
            }
            tlv += (len + 3) & ~3
        }
    }
}

