/// Writing messages: no name compression. A parsed message encodes to bytes that parse back
/// to an equal message (names lowercased, questions in their original spelling).
extension DNSMessage {
    public func encode() throws(DNSEncodeError) -> [UInt8] {
        var w = DNSWriter()
        w.u16(id)
        w.u16(flags.raw)
        for (section, n) in [("question", questions.count), ("answer", answers.count),
                             ("authority", authority.count), ("additional", additional.count)] {
            guard n <= 0xFFFF else { throw .tooManyRecords(section: section) }
            w.u16(UInt16(n))
        }
        for q in questions {
            try w.name(q.spelling)
            w.u16(q.type)
            w.u16(q.klass)
        }
        for r in answers { try w.record(r) }
        for r in authority { try w.record(r) }
        for r in additional { try w.record(r) }
        guard w.bytes.count <= 0xFFFF else { throw .messageTooLarge(w.bytes.count) }
        return w.bytes
    }

    /// A query for one name. `ednsPayloadSize` adds an OPT record with that UDP payload size
    /// (nil: no OPT).
    public static func query(id: UInt16, name: String, type: UInt16, klass: UInt16 = DNSClass.internet,
                             recursionDesired: Bool = true, ednsPayloadSize: UInt16? = 1232)
        throws(DNSEncodeError) -> [UInt8]
    {
        var m = DNSMessage(id: id, flags: DNSFlags(rd: recursionDesired),
                           questions: [DNSQuestion(name: name, type: type, klass: klass)])
        if let size = ednsPayloadSize {
            m.additional = [.opt(udpPayloadSize: size)]
        }
        return try m.encode()
    }
}

extension DNSRecord {
    /// An OPT pseudo-record (EDNS0 version 0, no options).
    public static func opt(udpPayloadSize: UInt16, extendedRcode: UInt8 = 0, dnssecOK: Bool = false,
                           options: [UInt8] = []) -> DNSRecord {
        DNSRecord(name: "", type: DNSType.opt, klass: udpPayloadSize,
                  ttl: UInt32(extendedRcode) << 24 | (dnssecOK ? 0x8000 : 0),
                  data: .opt(udpPayloadSize: udpPayloadSize, options: options))
    }
}

struct DNSWriter {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(512) }

    mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    mutating func u32(_ v: UInt32) {
        u16(UInt16(truncatingIfNeeded: v >> 16))
        u16(UInt16(truncatingIfNeeded: v))
    }

    mutating func name(_ text: String) throws(DNSEncodeError) {
        bytes += try wireName(text)
    }

    mutating func record(_ r: DNSRecord) throws(DNSEncodeError) {
        try name(r.name)
        u16(r.type)
        var klass = r.klass
        if case let .opt(size, _) = r.data { klass = size }
        u16(klass)
        u32(r.ttl)
        let rdata: [UInt8]
        switch r.data {
        case let .a(address):
            guard address.count == 4 else { throw .badAddress(type: r.type, length: address.count) }
            rdata = address
        case let .aaaa(address):
            guard address.count == 16 else { throw .badAddress(type: r.type, length: address.count) }
            rdata = address
        case let .cname(target):
            rdata = try wireName(target)
        case let .svcb(binding):
            var d = DNSWriter()
            d.u16(binding.priority)
            try d.name(binding.target)
            for p in binding.params {
                guard p.value.count <= 0xFFFF else { throw .rdataTooLong(type: r.type, length: p.value.count) }
                d.u16(p.key)
                d.u16(UInt16(p.value.count))
                d.bytes += p.value
            }
            rdata = d.bytes
        case let .opt(_, options):
            rdata = options
        case let .other(_, data):
            rdata = data
        }
        guard rdata.count <= 0xFFFF else { throw .rdataTooLong(type: r.type, length: rdata.count) }
        u16(UInt16(rdata.count))
        bytes += rdata
    }
}

/// A presentation name (see DNSMessage.swift; one trailing dot allowed) to wire form.
func wireName(_ text: String) throws(DNSEncodeError) -> [UInt8] {
    let chars = Array(text.utf8)
    var out: [UInt8] = []
    out.reserveCapacity(chars.count + 2)
    if chars.isEmpty || chars == [0x2E] { return [0] }
    var label: [UInt8] = []
    var i = 0
    func flush() throws(DNSEncodeError) {
        guard !label.isEmpty else { throw .badName(text, reason: "empty label") }
        guard label.count <= 63 else { throw .badName(text, reason: "label longer than 63 bytes") }
        out.append(UInt8(label.count))
        out += label
        label.removeAll(keepingCapacity: true)
    }
    while i < chars.count {
        let c = chars[i]
        if c == 0x2E {
            try flush()
            i += 1
            if i == chars.count { break } // one trailing dot
            continue
        }
        if c == 0x5C {
            guard i + 1 < chars.count else { throw .badName(text, reason: "a '\\' at the end") }
            let d = chars[i + 1]
            if d >= 0x30 && d <= 0x39 {
                guard i + 3 < chars.count, (0x30 ... 0x39).contains(chars[i + 2]), (0x30 ... 0x39).contains(chars[i + 3])
                else { throw .badName(text, reason: "\\DDD needs three digits") }
                let v = Int(d - 0x30) * 100 + Int(chars[i + 2] - 0x30) * 10 + Int(chars[i + 3] - 0x30)
                guard v <= 255 else { throw .badName(text, reason: "\\DDD over 255") }
                label.append(UInt8(v))
                i += 4
            } else {
                label.append(d)
                i += 2
            }
            continue
        }
        label.append(c)
        i += 1
    }
    if !label.isEmpty { try flush() }
    out.append(0)
    guard out.count <= 255 else { throw .badName(text, reason: "longer than 255 bytes") }
    return out
}
