import SourcePlaces
#if canImport(Glibc)
import Glibc
#endif

/// Netlink messages and acks as plain bytes: the boundary where tests fake the kernel.

/// The kernel object a message creates, deletes or reads, as error reports name it.
public enum KernelObject: Sendable, Hashable, CustomStringConvertible {
    case batch
    case table(family: String, name: String)
    case chain(String)
    case set(String)
    /// The rule's position in its chain, from 1.
    case rule(chain: String, index: Int)
    /// One element, by its value as nft writes it (or `interval start (0)`, `end of V` for the
    /// interval markers nft adds).
    case element(set: String, value: String)
    /// Several elements in one message.
    case elements(set: String, count: Int)

    /// `rule 3 in chain drone_x`, `set endpoints_v4 element 192.0.2.1`, ...
    public var description: String {
        switch self {
        case .batch: return "batch"
        case let .table(family, name): return "table \(family) \(name)"
        case let .chain(name): return "chain \(name)"
        case let .set(name): return "set \(name)"
        case let .rule(chain, index): return "rule \(index) in chain \(chain)"
        case let .element(set, value): return "set \(set) element \(value)"
        case let .elements(set, count): return "set \(set) elements (\(count))"
        }
    }
}

/// What a message creates, deletes or reads, and the config place that produced it.
public struct MessageSubject: Sendable, Hashable, CustomStringConvertible {
    public var object: KernelObject
    /// The IR origin (config or catalogue place) of the object, if known.
    public var origin: SourceLocation?

    public init(_ object: KernelObject, origin: SourceLocation? = nil) {
        self.object = object
        self.origin = origin
    }

    public var description: String { object.description }
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
        case Netlink.error: self = .error
        case Netlink.done: self = .done
        case Nfnetlink.batchBegin: self = .batchBegin
        case Nfnetlink.batchEnd: self = .batchEnd
        default:
            guard rawType >> 8 == Nfnetlink.nftables else { self = .other(rawType); return }
            // NFT_MSG_NEWTABLE (0) ... NFT_MSG_DELSETELEM (14), in linux/netfilter/nf_tables.h order.
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
    public var parts: [MessageSubject] {
        get { partStore.subjects }
        set { partStore = .list(newValue) }
    }
    private var partStore: Parts

    public init(bytes: [UInt8], subject: MessageSubject? = nil, parts: [MessageSubject] = []) {
        precondition(bytes.count >= 16, "a netlink message has a 16-byte header")
        self.bytes = bytes
        self.subject = subject
        self.partStore = .list(parts)
    }

    /// Parts made only when asked (an error names one): a batch of 100k set elements holds a
    /// function per message, not a subject and its text per element.
    mutating func setParts(count: Int, _ make: @escaping @Sendable (Int) -> MessageSubject) {
        partStore = .deferred(count: count, make)
    }

    /// The parts as given, or how to make them; equal when the subjects are.
    private enum Parts: Sendable, Hashable {
        case list([MessageSubject])
        case deferred(count: Int, @Sendable (Int) -> MessageSubject)

        var subjects: [MessageSubject] {
            switch self {
            case let .list(l): return l
            case let .deferred(count, make): return (0..<count).map(make)
            }
        }

        static func == (a: Parts, b: Parts) -> Bool { a.subjects == b.subjects }
        func hash(into h: inout Hasher) { h.combine(subjects) }
    }

    public var length: UInt32 { bytes.host32(0) }
    public var rawType: UInt16 { bytes.host16(4) }
    public var flags: UInt16 { bytes.host16(6) }
    public var sequence: UInt32 {
        get { bytes.host32(8) }
        set { bytes.replaceSubrange(8..<12, with: (0..<4).map { UInt8(truncatingIfNeeded: newValue >> (8 * $0)) }) }
    }
    public var kind: MessageKind { MessageKind(rawType: rawType) }
    /// True when the sender asked the kernel to acknowledge this message (NLM_F_ACK).
    public var wantsAck: Bool { flags & Netlink.ack != 0 }
    /// The nfgenmsg family byte (e.g. 1 for inet), for nfnetlink messages.
    public var family: UInt8 { bytes.count > 16 ? bytes[16] : 0 }

    /// Splits a buffer holding several netlink messages (as read from a socket).
    public static func split(_ buffer: [UInt8]) throws(NetlinkError) -> [NetlinkMessage] {
        let (messages, malformedAt) = ranges(in: buffer)
        if let offset = malformedAt {
            throw NetlinkError(kind: .protocolViolation, errno: EPROTO, operation: "parse reply",
                               detail: "truncated netlink message at offset \(offset)")
        }
        return messages.map { NetlinkMessage(bytes: Array(buffer[$0])) }
    }

    /// The one splitter: each message's bytes (nlmsg_len, without padding), and the offset of a header
    /// that cannot be trusted (too short, or nlmsg_len out of bounds), where the walk stops since the
    /// next boundary is unknown.
    static func ranges(in buffer: [UInt8]) -> (messages: [Range<Int>], malformedAt: Int?) {
        var out: [Range<Int>] = []
        var offset = 0
        while offset < buffer.count {
            guard buffer.count - offset >= 16 else { return (out, offset) }
            let length = Int(buffer.host32(offset))
            guard length >= 16, length <= buffer.count - offset else { return (out, offset) }
            out.append(offset..<(offset + length))
            offset += (length + 3) & ~3
        }
        return (out, nil)
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
        let b = m.bytes
        guard m.kind == .error, b.count >= 20 else {
            throw NetlinkError(kind: .protocolViolation, errno: EPROTO, operation: "parse ack",
                               detail: "not an NLMSG_ERROR message")
        }
        // struct nlmsgerr: the negative errno, then the echoed request header, which tells what this answers.
        self.init(sequence: b.count >= 36 ? b.host32(28) : m.sequence, errno: 0 &- Int32(bitPattern: b.host32(16)))
        guard m.flags & Netlink.ackTLVs != 0, b.count >= 36 else { return }
        let tlvs = m.flags & Netlink.capped != 0 ? 36 : 20 + ((Int(b.host32(20)) + 3) & ~3)
        for a in NetlinkAttributes(b, from: tlvs, to: b.count) {
            switch a.type {
            case Netlink.errorMessage:
                extendedMessage = String(decoding: b[a.value].prefix { $0 != 0 }, as: UTF8.self)
            case Netlink.errorOffset where a.value.count >= 4:
                errorOffset = b.host32(a.value.lowerBound)
            default: break
            }
        }
    }
}
