/// The strict parser. Every read is bounds-checked against the message; every loop is
/// bounded by the bytes it consumes or by a fixed limit; nothing is allocated before the
/// counts have been checked against the bytes that could hold them.
///
/// Strictness, and why:
/// - Section counts must fit the bytes left (a question needs at least 5 bytes, a record
///   at least 11), checked before parsing, so `ancount = 65535` in 100 bytes is refused
///   before anything is reserved.
/// - Names: labels ≤ 63 bytes (the length byte's top bits 00), names ≤ 255 bytes in wire
///   form. Compression pointers must land strictly before every byte this name has read so
///   far — in particular before the pointer itself — and after the header; at most 128
///   jumps. This refuses self-pointers, pointer pairs, longer cycles and forward pointers,
///   and still accepts every suffix-sharing a real encoder produces.
/// - RDATA must lie inside the message; A and AAAA (class IN) must be 4 and 16 bytes; a
///   name in RDATA (CNAME, NS, SOA, MX, PTR, SRV ...) must end exactly at RDLENGTH, as must
///   SVCB params and EDNS options. SVCB target names must not be compressed (RFC 9460 §2.2).
/// - At most one OPT, in the additional section, owned by the root (RFC 6891 §6.1.1).
/// - Bytes after the last announced record are an error. A sender has no reason to add
///   them (EDNS padding lives inside OPT, TCP framing is the caller's), and a message whose
///   end is not where its counts say is one whose meaning differs between parsers — the
///   thing a filter must not be fooled by.
extension DNSMessage {
    /// Parses one DNS message (for TCP: without the 2-byte length prefix).
    public static func parse(_ bytes: [UInt8]) throws(DNSParseError) -> DNSMessage {
        var p = DNSParser(bytes)
        return try p.message()
    }

    public static func parse(_ bytes: some Collection<UInt8>) throws(DNSParseError) -> DNSMessage {
        try parse(Array(bytes))
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(DNSParseError) -> DNSMessage {
        try parse(Array(bytes))
    }
}

/// At most this many compression jumps in one name (a name has at most 127 labels).
let maxPointerJumps = 128

struct DNSParser {
    let b: [UInt8]
    var count: Int { b.count }
    var sawOPT = false

    init(_ bytes: [UInt8]) { b = bytes }

    func u16(_ at: Int) throws(DNSParseError) -> UInt16 {
        guard at >= 0, at + 2 <= count else { throw .truncated(at: min(max(at, 0), count)) }
        return UInt16(b[at]) << 8 | UInt16(b[at + 1])
    }

    func u32(_ at: Int) throws(DNSParseError) -> UInt32 {
        guard at >= 0, at + 4 <= count else { throw .truncated(at: min(max(at, 0), count)) }
        return UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    mutating func message() throws(DNSParseError) -> DNSMessage {
        guard count >= 12 else { throw .truncated(at: count) }
        let id = try u16(0)
        let flags = DNSFlags(raw: try u16(2))
        let qd = Int(try u16(4)), an = Int(try u16(6)), ns = Int(try u16(8)), ar = Int(try u16(10))
        // Smallest question: root name (1) + type + class; smallest record: root + 10.
        let room = count - 12
        var need = qd * 5
        if need > room { throw .countTooLarge(section: "question") }
        need += an * 11
        if need > room { throw .countTooLarge(section: "answer") }
        need += ns * 11
        if need > room { throw .countTooLarge(section: "authority") }
        need += ar * 11
        if need > room { throw .countTooLarge(section: "additional") }

        var pos = 12
        var questions: [DNSQuestion] = []
        questions.reserveCapacity(qd)
        for _ in 0 ..< qd {
            var wire: [UInt8] = []
            let end = try readName(at: pos, limit: count, compression: true, into: &wire)
            let type = try u16(end), klass = try u16(end + 2)
            questions.append(DNSQuestion(name: presentation(wire, lowercase: false), type: type, klass: klass))
            pos = end + 4
        }
        let answers = try records(an, at: &pos, additional: false)
        let authority = try records(ns, at: &pos, additional: false)
        let additional = try records(ar, at: &pos, additional: true)
        if pos != count { throw .trailingGarbage(at: pos) }
        return DNSMessage(id: id, flags: flags, questions: questions, answers: answers, authority: authority,
                          additional: additional)
    }

    mutating func records(_ n: Int, at pos: inout Int, additional: Bool) throws(DNSParseError) -> [DNSRecord] {
        var out: [DNSRecord] = []
        out.reserveCapacity(n)
        for _ in 0 ..< n {
            out.append(try record(at: &pos, additional: additional))
        }
        return out
    }

    mutating func record(at pos: inout Int, additional: Bool) throws(DNSParseError) -> DNSRecord {
        let start = pos
        var wire: [UInt8] = []
        let nameEnd = try readName(at: pos, limit: count, compression: true, into: &wire)
        let type = try u16(nameEnd), klass = try u16(nameEnd + 2), ttl = try u32(nameEnd + 4)
        let lengthAt = nameEnd + 8
        let rdLength = Int(try u16(lengthAt))
        let rdStart = lengthAt + 2
        let rdEnd = rdStart + rdLength
        guard rdEnd <= count else { throw .truncated(at: count) }
        let name = presentation(wire, lowercase: true)

        let data: DNSRecordData
        switch type {
        case DNSType.a where klass == DNSClass.internet:
            guard rdLength == 4 else { throw .badRecordLength(type: type, at: lengthAt) }
            data = .a(Array(b[rdStart ..< rdEnd]))
        case DNSType.aaaa where klass == DNSClass.internet:
            guard rdLength == 16 else { throw .badRecordLength(type: type, at: lengthAt) }
            data = .aaaa(Array(b[rdStart ..< rdEnd]))
        case DNSType.cname:
            var target: [UInt8] = []
            let end = try readName(at: rdStart, limit: rdEnd, compression: true, into: &target,
                                   overrun: .badRecordLength(type: type, at: lengthAt))
            guard end == rdEnd else { throw .badRecordLength(type: type, at: lengthAt) }
            data = .cname(presentation(target, lowercase: true))
        case DNSType.svcb, DNSType.https:
            data = .svcb(try serviceBinding(type: type, lengthAt: lengthAt, rdStart: rdStart, rdEnd: rdEnd))
        case DNSType.opt:
            guard additional, !sawOPT, wire == [0] else { throw .badOPT(at: start) }
            sawOPT = true
            var p = rdStart
            while p < rdEnd {
                guard p + 4 <= rdEnd else { throw .badRecordLength(type: type, at: p) }
                let length = Int(try u16(p + 2))
                guard p + 4 + length <= rdEnd else { throw .badRecordLength(type: type, at: p) }
                p += 4 + length
            }
            data = .opt(udpPayloadSize: klass, options: Array(b[rdStart ..< rdEnd]))
        default:
            if let layout = Self.nameLayouts[type] {
                data = .other(type: type, rdata: try decompressed(layout, type: type, lengthAt: lengthAt,
                                                                  rdStart: rdStart, rdEnd: rdEnd))
            } else {
                data = .other(type: type, rdata: Array(b[rdStart ..< rdEnd]))
            }
        }
        pos = rdEnd
        return DNSRecord(name: name, type: type, klass: klass, ttl: ttl, data: data)
    }

    func serviceBinding(type: UInt16, lengthAt: Int, rdStart: Int, rdEnd: Int) throws(DNSParseError) -> DNSServiceBinding {
        let bad = DNSParseError.badRecordLength(type: type, at: lengthAt)
        guard rdEnd - rdStart >= 3 else { throw bad }
        let priority = try u16(rdStart)
        var target: [UInt8] = []
        var p = try readName(at: rdStart + 2, limit: rdEnd, compression: false, into: &target, overrun: bad)
        var params: [DNSSvcParam] = []
        var lastKey = -1
        while p < rdEnd {
            guard p + 4 <= rdEnd else { throw .badRecordLength(type: type, at: p) }
            let key = try u16(p)
            let length = Int(try u16(p + 2))
            guard p + 4 + length <= rdEnd else { throw .badRecordLength(type: type, at: p) }
            // RFC 9460 §2.2: keys strictly increasing (so no repeats); 65535 is reserved.
            guard Int(key) > lastKey, key != 65535 else { throw .badSvcParam(key: key, at: p) }
            switch key {
            case DNSSvcParam.ipv4hint: guard length > 0, length % 4 == 0 else { throw .badSvcParam(key: key, at: p) }
            case DNSSvcParam.ipv6hint: guard length > 0, length % 16 == 0 else { throw .badSvcParam(key: key, at: p) }
            default: break
            }
            lastKey = Int(key)
            params.append(DNSSvcParam(key: key, value: Array(b[p + 4 ..< p + 4 + length])))
            p += 4 + length
        }
        return DNSServiceBinding(priority: priority, target: presentation(target, lowercase: true), params: params)
    }

    enum Part { case name, fixed(Int) }

    /// RDATA layouts of the types whose names a sender may compress (RFC 3597 §4: the RFC 1035
    /// types, and the later ones a receiver should also decompress; SRV is here because some
    /// servers compress it although RFC 2782 says not to).
    static let nameLayouts: [UInt16: [Part]] = [
        2: [.name], 3: [.name], 4: [.name], 7: [.name], 8: [.name], 9: [.name], 12: [.name], // NS MD MF MB MG MR PTR
        6: [.name, .name, .fixed(20)], // SOA
        14: [.name, .name], 17: [.name, .name], // MINFO RP
        15: [.fixed(2), .name], 18: [.fixed(2), .name], 21: [.fixed(2), .name], 36: [.fixed(2), .name], // MX AFSDB RT KX
        33: [.fixed(6), .name], // SRV
    ]

    func decompressed(_ layout: [Part], type: UInt16, lengthAt: Int, rdStart: Int, rdEnd: Int)
        throws(DNSParseError) -> [UInt8]
    {
        let bad = DNSParseError.badRecordLength(type: type, at: lengthAt)
        var out: [UInt8] = []
        var p = rdStart
        for part in layout {
            switch part {
            case .name:
                p = try readName(at: p, limit: rdEnd, compression: true, into: &out, overrun: bad)
            case let .fixed(n):
                guard p + n <= rdEnd else { throw bad }
                out.append(contentsOf: b[p ..< p + n])
                p += n
            }
        }
        guard p == rdEnd else { throw bad }
        return out
    }

    /// Reads the name at `start`, appends its uncompressed wire form (labels and the final
    /// zero, case kept) to `out`, and returns the offset just past the name's own bytes.
    /// Until the first pointer the name must stay before `limit`; reading past it throws
    /// `overrun` (or `truncated` when no other error is given).
    func readName(at start: Int, limit: Int, compression: Bool, into out: inout [UInt8],
                  overrun: DNSParseError? = nil) throws(DNSParseError) -> Int {
        var pos = start
        var bound = min(limit, count)
        var lowest = start // every jump must land strictly before this
        var end: Int? = nil
        var wireLength = 0
        var jumps = 0
        func past(_ at: Int) -> DNSParseError {
            if end == nil, let overrun, bound < count { return overrun }
            return .truncated(at: min(at, count))
        }
        while true {
            guard pos < bound else { throw past(pos) }
            let length = Int(b[pos])
            switch length & 0xC0 {
            case 0:
                if length == 0 {
                    out.append(0)
                    return end ?? pos + 1
                }
                guard pos + 1 + length <= bound else { throw past(pos) }
                wireLength += 1 + length
                guard wireLength + 1 <= 255 else { throw .nameTooLong(at: start) }
                out.append(contentsOf: b[pos ..< pos + 1 + length])
                pos += 1 + length
            case 0xC0:
                guard compression else { throw .compressionNotAllowed(at: pos) }
                guard pos + 2 <= bound else { throw past(pos) }
                let target = (length & 0x3F) << 8 | Int(b[pos + 1])
                if target > pos { throw .pointerForward(at: pos) }
                if target >= lowest { throw .compressionLoop(at: pos) }
                if target < 12 { throw .badPointer(at: pos) }
                jumps += 1
                if jumps > maxPointerJumps { throw .compressionLoop(at: pos) }
                if end == nil { end = pos + 2 }
                lowest = target
                pos = target
                bound = count
            default:
                throw .badLabel(at: pos)
            }
        }
    }
}

/// Wire labels (ending in the zero byte) to a presentation string; see DNSMessage.swift.
func presentation(_ wire: [UInt8], lowercase: Bool) -> String {
    var text: [UInt8] = []
    text.reserveCapacity(wire.count)
    var i = 0
    while i < wire.count {
        let length = Int(wire[i])
        if length == 0 { break }
        if !text.isEmpty { text.append(0x2E) }
        var j = i + 1
        while j <= i + length, j < wire.count {
            var c = wire[j]
            if c == 0x2E || c == 0x5C { // "." and "\"
                text.append(0x5C)
                text.append(c)
            } else if c >= 0x21 && c <= 0x7E {
                if lowercase, c >= 0x41, c <= 0x5A { c |= 0x20 }
                text.append(c)
            } else {
                text.append(0x5C)
                text.append(0x30 + c / 100)
                text.append(0x30 + (c / 10) % 10)
                text.append(0x30 + c % 10)
            }
            j += 1
        }
        i += 1 + length
    }
    return String(decoding: text, as: UTF8.self)
}
