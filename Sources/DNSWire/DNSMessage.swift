/// DNS messages (RFC 1035, with EDNS0 from RFC 6891 and SVCB/HTTPS from RFC 9460) as a
/// forwarding resolver needs them: a strict parser for untrusted bytes, a plain encoder,
/// and the few responses the resolver makes itself (`DNSResponse`).
///
/// Names are presentation strings: labels joined by ".", no trailing dot, "" for the root.
/// Parsed names are lowercased (ASCII A–Z only). A label byte outside printable ASCII
/// (0x21–0x7E) is written `\DDD` (three decimal digits), and a "." or "\" inside a label is
/// written `\.` or `\\`, as dig prints them. So one string stands for exactly one wire name:
/// a label "flysafe-api.dji" can never read as the two labels of `flysafe-api.dji`.

/// The 16 flag bits of the header.
public struct DNSFlags: Sendable, Hashable, CustomStringConvertible {
    public var raw: UInt16

    public init(raw: UInt16 = 0) { self.raw = raw }

    public init(qr: Bool = false, opcode: UInt8 = 0, aa: Bool = false, tc: Bool = false, rd: Bool = false,
                ra: Bool = false, ad: Bool = false, cd: Bool = false, rcode: UInt8 = 0) {
        raw = 0
        self.qr = qr; self.opcode = opcode; self.aa = aa; self.tc = tc; self.rd = rd
        self.ra = ra; self.ad = ad; self.cd = cd; self.rcode = rcode
    }

    private func bit(_ n: UInt16) -> Bool { raw & (1 << n) != 0 }
    private mutating func set(_ n: UInt16, _ on: Bool) { if on { raw |= 1 << n } else { raw &= ~(1 << n) } }

    /// Response (1) or query (0).
    public var qr: Bool { get { bit(15) } set { set(15, newValue) } }
    /// 4 bits; 0 is a standard query.
    public var opcode: UInt8 {
        get { UInt8(truncatingIfNeeded: (raw >> 11) & 0xF) }
        set { raw = (raw & ~(0xF << 11)) | (UInt16(newValue & 0xF) << 11) }
    }
    public var aa: Bool { get { bit(10) } set { set(10, newValue) } }
    public var tc: Bool { get { bit(9) } set { set(9, newValue) } }
    public var rd: Bool { get { bit(8) } set { set(8, newValue) } }
    public var ra: Bool { get { bit(7) } set { set(7, newValue) } }
    /// The reserved Z bit (must be zero; kept so that a message re-encodes bit for bit).
    public var z: Bool { get { bit(6) } set { set(6, newValue) } }
    public var ad: Bool { get { bit(5) } set { set(5, newValue) } }
    public var cd: Bool { get { bit(4) } set { set(4, newValue) } }
    /// The low 4 bits of the response code; `DNSMessage.rcode` adds the OPT record's upper bits.
    public var rcode: UInt8 {
        get { UInt8(truncatingIfNeeded: raw & 0xF) }
        set { raw = (raw & ~0xF) | UInt16(newValue & 0xF) }
    }

    public var description: String {
        var parts: [String] = []
        for (on, name) in [(qr, "qr"), (aa, "aa"), (tc, "tc"), (rd, "rd"), (ra, "ra"), (z, "z"), (ad, "ad"), (cd, "cd")]
        where on { parts.append(name) }
        return "opcode \(opcode) rcode \(rcode) [\(parts.joined(separator: " "))]"
    }
}

public struct DNSQuestion: Sendable, Hashable {
    /// The name as it came (case kept; escapes as described above). Responses echo it, so a
    /// client that randomises case (DNS 0x20) gets its own spelling back.
    public var spelling: String
    public var type: UInt16
    public var klass: UInt16

    /// The name lowercased: the one to match.
    public var name: String {
        get { asciiLowercased(spelling) }
        set { spelling = newValue }
    }

    public init(name: String, type: UInt16, klass: UInt16 = DNSClass.internet) {
        self.spelling = name
        self.type = type
        self.klass = klass
    }
}

public struct DNSRecord: Sendable, Hashable {
    /// Lowercased presentation name ("" for the root).
    public var name: String
    /// The type on the wire; it decides how `data` is encoded.
    public var type: UInt16
    /// The class; for OPT it is the UDP payload size (and `data` carries it too).
    public var klass: UInt16
    /// For OPT: extended rcode (bits 24–31), version (16–23), DO (15).
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: String, type: UInt16, klass: UInt16 = DNSClass.internet, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.type = type
        self.klass = klass
        self.ttl = ttl
        self.data = data
    }
}

public enum DNSRecordData: Sendable, Hashable {
    /// A in class IN: 4 bytes.
    case a([UInt8])
    /// AAAA in class IN: 16 bytes.
    case aaaa([UInt8])
    /// CNAME: the target name.
    case cname(String)
    /// SVCB (64) and HTTPS (65).
    case svcb(DNSServiceBinding)
    /// OPT (41), the EDNS0 pseudo-record. `options` is the RDATA (code, length, value ...),
    /// checked for shape and passed on as it is.
    case opt(udpPayloadSize: UInt16, options: [UInt8])
    /// Anything else, as RDATA bytes. For the RFC 1035 types whose RDATA holds names a
    /// sender may compress (NS, SOA, PTR, MX, and the few like them, also SRV), the names
    /// are checked and decompressed here, so `rdata` never holds a compression pointer and
    /// can be written into another message as it is.
    case other(type: UInt16, rdata: [UInt8])
}

/// One SvcParam of an SVCB/HTTPS record, its value as on the wire.
public struct DNSSvcParam: Sendable, Hashable {
    public var key: UInt16
    public var value: [UInt8]
    public init(key: UInt16, value: [UInt8]) { self.key = key; self.value = value }

    public static let ipv4hint: UInt16 = 4
    public static let ipv6hint: UInt16 = 6
}

/// The RDATA of an SVCB or HTTPS record (RFC 9460).
public struct DNSServiceBinding: Sendable, Hashable {
    /// 0 is AliasMode; otherwise ServiceMode.
    public var priority: UInt16
    /// Lowercased presentation name; "" is the root (".": the owner name itself in ServiceMode).
    public var target: String
    /// Every SvcParam in wire order (keys strictly increasing).
    public var params: [DNSSvcParam]

    public init(priority: UInt16, target: String, params: [DNSSvcParam] = []) {
        self.priority = priority
        self.target = target
        self.params = params
    }

    /// The ipv4hint addresses (4 bytes each).
    public var ipv4Hints: [[UInt8]] { hints(DNSSvcParam.ipv4hint, 4) }
    /// The ipv6hint addresses (16 bytes each).
    public var ipv6Hints: [[UInt8]] { hints(DNSSvcParam.ipv6hint, 16) }

    private func hints(_ key: UInt16, _ size: Int) -> [[UInt8]] {
        guard let p = params.first(where: { $0.key == key }), p.value.count % size == 0 else { return [] }
        return stride(from: 0, to: p.value.count, by: size).map { Array(p.value[$0 ..< $0 + size]) }
    }
}

/// What the OPT record says (RFC 6891 §6.1.3).
public struct DNSEDNS: Sendable, Hashable {
    public var udpPayloadSize: UInt16
    /// The upper 8 bits of the 12-bit response code.
    public var extendedRcode: UInt8
    public var version: UInt8
    /// DNSSEC OK.
    public var dnssecOK: Bool
    public var options: [UInt8]
}

public enum DNSType {
    public static let a: UInt16 = 1
    public static let ns: UInt16 = 2
    public static let cname: UInt16 = 5
    public static let soa: UInt16 = 6
    public static let ptr: UInt16 = 12
    public static let mx: UInt16 = 15
    public static let txt: UInt16 = 16
    public static let aaaa: UInt16 = 28
    public static let srv: UInt16 = 33
    public static let opt: UInt16 = 41
    public static let svcb: UInt16 = 64
    public static let https: UInt16 = 65
}

public enum DNSClass {
    public static let internet: UInt16 = 1
}

public enum DNSRcode {
    public static let noError: UInt8 = 0
    public static let formErr: UInt8 = 1
    public static let servFail: UInt8 = 2
    public static let nxDomain: UInt8 = 3
    public static let notImp: UInt8 = 4
    public static let refused: UInt8 = 5
}

public struct DNSMessage: Sendable, Hashable {
    public var id: UInt16
    public var flags: DNSFlags
    public var questions: [DNSQuestion]
    public var answers: [DNSRecord]
    public var authority: [DNSRecord]
    public var additional: [DNSRecord]

    public init(id: UInt16, flags: DNSFlags = DNSFlags(), questions: [DNSQuestion] = [], answers: [DNSRecord] = [],
                authority: [DNSRecord] = [], additional: [DNSRecord] = []) {
        self.id = id
        self.flags = flags
        self.questions = questions
        self.answers = answers
        self.authority = authority
        self.additional = additional
    }

    /// The OPT record's content, if the message has one (the parser allows at most one,
    /// in the additional section, owned by the root).
    public var edns: DNSEDNS? {
        for r in additional {
            if case let .opt(size, options) = r.data {
                return DNSEDNS(udpPayloadSize: size, extendedRcode: UInt8(truncatingIfNeeded: r.ttl >> 24),
                               version: UInt8(truncatingIfNeeded: r.ttl >> 16), dnssecOK: r.ttl & 0x8000 != 0,
                               options: options)
            }
        }
        return nil
    }

    /// The full response code: the header's 4 bits plus the OPT record's upper 8.
    public var rcode: UInt16 {
        UInt16(flags.rcode) | (UInt16(edns?.extendedRcode ?? 0) << 4)
    }
}

/// Why bytes are not a DNS message. `at` is the byte offset where the problem was seen.
public enum DNSParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message ends (or a name runs past its end) before what it announces.
    case truncated(at: Int)
    /// A label length byte with the top bits 01 or 10 (extended label types are not in use).
    case badLabel(at: Int)
    /// A compression pointer into the 12-byte header.
    case badPointer(at: Int)
    /// A pointer that does not move strictly before everything this name has read so far
    /// (pointer to itself, two pointers to each other, longer cycles), or too many jumps.
    case compressionLoop(at: Int)
    /// A pointer to a later offset than its own.
    case pointerForward(at: Int)
    /// A compression pointer where RFC 9460 forbids one (an SVCB/HTTPS target name).
    case compressionNotAllowed(at: Int)
    /// A name over 255 bytes in wire form. `at` is where the name starts.
    case nameTooLong(at: Int)
    /// A section count that the remaining bytes cannot hold even at the smallest size.
    case countTooLarge(section: String)
    /// RDLENGTH that does not fit the record type, or RDATA whose content does not end exactly
    /// at RDLENGTH. `at` is the RDLENGTH field's offset (or where the content went wrong).
    case badRecordLength(type: UInt16, at: Int)
    /// An SVCB/HTTPS SvcParam out of order, repeated, reserved (65535) or with a bad hint length.
    case badSvcParam(key: UInt16, at: Int)
    /// An OPT record outside the additional section, not owned by the root, or a second one.
    case badOPT(at: Int)
    /// Bytes after the last record the counts announce.
    case trailingGarbage(at: Int)

    public var description: String {
        switch self {
        case let .truncated(at): "message truncated at byte \(at)"
        case let .badLabel(at): "bad label type at byte \(at)"
        case let .badPointer(at): "compression pointer into the header at byte \(at)"
        case let .compressionLoop(at): "compression loop at byte \(at)"
        case let .pointerForward(at): "forward compression pointer at byte \(at)"
        case let .compressionNotAllowed(at): "compressed name where compression is not allowed at byte \(at)"
        case let .nameTooLong(at): "name longer than 255 bytes at byte \(at)"
        case let .countTooLarge(section): "\(section) count larger than the message can hold"
        case let .badRecordLength(type, at): "bad RDATA length for type \(type) at byte \(at)"
        case let .badSvcParam(key, at): "bad SvcParam \(key) at byte \(at)"
        case let .badOPT(at): "misplaced or repeated OPT record at byte \(at)"
        case let .trailingGarbage(at): "trailing bytes after the last record at byte \(at)"
        }
    }
}

/// Why a message cannot be written.
public enum DNSEncodeError: Error, Sendable, Hashable, CustomStringConvertible {
    case badName(String, reason: String)
    case badAddress(type: UInt16, length: Int)
    case rdataTooLong(type: UInt16, length: Int)
    case tooManyRecords(section: String)
    case messageTooLarge(Int)

    public var description: String {
        switch self {
        case let .badName(name, reason): "cannot encode name '\(name)': \(reason)"
        case let .badAddress(type, length): "type \(type) address of \(length) bytes"
        case let .rdataTooLong(type, length): "type \(type) RDATA of \(length) bytes (at most 65535)"
        case let .tooManyRecords(section): "more than 65535 entries in the \(section) section"
        case let .messageTooLarge(n): "message of \(n) bytes (at most 65535)"
        }
    }
}

/// ASCII-only lowercasing (DNS names compare case-insensitively in ASCII only).
func asciiLowercased(_ s: String) -> String {
    var bytes = Array(s.utf8)
    var changed = false
    for i in bytes.indices where bytes[i] >= 0x41 && bytes[i] <= 0x5A {
        bytes[i] |= 0x20
        changed = true
    }
    return changed ? String(decoding: bytes, as: UTF8.self) : s
}
