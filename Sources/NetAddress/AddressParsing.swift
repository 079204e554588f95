/// Parsing and printing of IPv4/IPv6 addresses and networks, without Foundation.

public enum AddressParseError: Error, Equatable, Sendable {
    /// Not an IPv4 or IPv6 address.
    case notAnAddress
    /// The prefix after `/` is not a number within the family's range.
    case badPrefixLength(maximum: Int)
    /// The address has bits set beyond the prefix (`192.0.2.1/24`).
    case hostBitsSet(network: String)
    /// An IPv4-mapped IPv6 address; the plain IPv4 form is meant.
    case ipv4Mapped(String)
}

extension IPNetwork {
    /// Parses `192.0.2.1`, `192.0.2.0/24`, `2001:db8::1`, `2001:db8::/32`.
    /// Host bits beyond the prefix are an error, so a typo cannot widen a rule silently.
    /// IPv4-mapped IPv6 (`::ffff:192.0.2.1`) is refused: IPv4 traffic never carries it.
    public static func parse(_ text: String) throws(AddressParseError) -> IPNetwork {
        let net = try parseAny(text)
        if !net.isIPv4, net.value >> 32 == 0xFFFF, net.prefixLength >= 96 {
            throw .ipv4Mapped(IPv4Text.format(UInt32(truncatingIfNeeded: net.value)))
        }
        return net
    }

    static func parseAny(_ text: String) throws(AddressParseError) -> IPNetwork {
        // The grammar is ASCII: it is read as UTF-8 bytes. Text with other characters cannot be an
        // address; it is split at "/" as characters (a combining mark after "/" makes one
        // character with it), so that which error it gets does not change.
        var text = text
        let ascii = text.utf8.allSatisfy { $0 < 0x80 }
        let slash: Int?
        if ascii {
            slash = text.utf8.firstIndex(of: UInt8(ascii: "/")).map { text.utf8.distance(from: text.utf8.startIndex, to: $0) }
        } else {
            slash = text.firstIndex(of: "/").map { text.utf8.distance(from: text.utf8.startIndex, to: $0) }
        }
        // withUTF8 rethrows untyped errors, so the result comes out as a Result.
        return try text.withUTF8 { u in
            Result { () throws(AddressParseError) -> IPNetwork in try parse(u, slash: slash) }
        }.get()
    }

    /// `parseAny` on the UTF-8 bytes, the prefix after the byte offset `slash`.
    private static func parse(_ u: UnsafeBufferPointer<UInt8>, slash: Int?) throws(AddressParseError) -> IPNetwork {
        let addressEnd = slash ?? u.count
        let address = UnsafeBufferPointer(rebasing: u[0..<addressEnd])
        let isIPv4: Bool, value: UInt128
        if let v4 = IPv4Text.parse(address) { (isIPv4, value) = (true, UInt128(v4)) }
        else if let v6 = IPv6Text.parse(address) { (isIPv4, value) = (false, v6) }
        else { throw .notAnAddress }
        let maxPrefix = isIPv4 ? 32 : 128
        var prefix = maxPrefix
        if let slash {
            let p = UnsafeBufferPointer(rebasing: u[(slash + 1)...])
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw .badPrefixLength(maximum: maxPrefix)
            }
            prefix = p.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard prefix <= maxPrefix else { throw .badPrefixLength(maximum: maxPrefix) }
        }
        let net = IPNetwork(value: value, prefixLength: prefix, isIPv4: isIPv4)
        if net.value != value { throw .hostBitsSet(network: net.description) }
        return net
    }

    /// Parses a dotted-quad IPv4 address (no leading zeros, no shorthand).
    public static func parseIPv4(_ s: String) -> [UInt8]? {
        var s = s
        return s.withUTF8 { IPv4Text.parse($0) }.map { IPNetwork.bytes(of: UInt128($0), count: 4) }
    }

    /// Parses an IPv6 address in any RFC 4291 text form, including an embedded IPv4 tail.
    public static func parseIPv6(_ s: String) -> [UInt8]? {
        var s = s
        return s.withUTF8 { IPv6Text.parse($0) }.map { IPNetwork.bytes(of: $0, count: 16) }
    }

    /// Prints an address in canonical form (RFC 5952 for IPv6).
    public static func format(address bytes: [UInt8]) -> String {
        var v: UInt128 = 0
        for b in bytes { v = v << 8 | UInt128(b) }
        return bytes.count == 4 ? IPv4Text.format(UInt32(truncatingIfNeeded: v)) : IPv6Text.format(v)
    }
}

extension IPNetwork: CustomStringConvertible {
    /// `192.0.2.1` for a host, `192.0.2.0/24` for a network.
    public var description: String {
        var out = isIPv4 ? IPv4Text.format(UInt32(truncatingIfNeeded: value)) : IPv6Text.format(value)
        if !isHost {
            out += "/"
            out += String(prefixLength)
        }
        return out
    }
}

/// Dotted-quad IPv4 text, read from and written to UTF-8 bytes.
enum IPv4Text {
    /// Four decimal numbers 0-255 separated by ".", without leading zeros.
    static func parse(_ u: UnsafeBufferPointer<UInt8>) -> UInt32? {
        var value: UInt32 = 0, parts = 0, i = 0
        while parts < 4 {
            var n: UInt32 = 0, digits = 0
            let start = i
            while i < u.count, u[i] >= 0x30, u[i] <= 0x39 {
                n = n * 10 + UInt32(u[i] - 0x30); digits += 1; i += 1
                if digits > 3 { return nil }
            }
            guard digits > 0, n <= 255, !(digits > 1 && u[start] == 0x30) else { return nil }
            value = value << 8 | n
            parts += 1
            if parts < 4 {
                guard i < u.count, u[i] == UInt8(ascii: ".") else { return nil }
                i += 1
            }
        }
        return i == u.count ? value : nil
    }

    static func format(_ v: UInt32) -> String {
        var buf: (UInt64, UInt64) = (0, 0) // 15 bytes at most
        return withUnsafeMutableBytes(of: &buf) { raw in
            var n = 0
            for shift in stride(from: 24, through: 0, by: -8) {
                if shift != 24 { raw[n] = UInt8(ascii: "."); n += 1 }
                let octet = Int(v >> UInt32(shift) & 0xFF)
                if octet >= 100 { raw[n] = UInt8(0x30 + octet / 100); n += 1 }
                if octet >= 10 { raw[n] = UInt8(0x30 + octet / 10 % 10); n += 1 }
                raw[n] = UInt8(0x30 + octet % 10); n += 1
            }
            return String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<n]), as: UTF8.self)
        }
    }
}

/// IPv6 text (RFC 4291 section 2.2 to read, RFC 5952 to write), on UTF-8 bytes.
enum IPv6Text {
    /// Any RFC 4291 form: eight groups of 1-4 hex digits, at most one "::" for a run of zero
    /// groups, and a dotted-quad IPv4 tail in place of the last two groups.
    static func parse(_ u: UnsafeBufferPointer<UInt8>) -> UInt128? {
        guard u.contains(UInt8(ascii: ":")), u.count <= 45 else { return nil }
        let colon = UInt8(ascii: ":")
        // The first "::"; a second one is an error.
        var gap: Int?
        var i = 0
        while i + 1 < u.count {
            if u[i] == colon && u[i + 1] == colon {
                guard gap == nil else { return nil }
                gap = i; i += 2
            } else { i += 1 }
        }
        var groups: (UInt128, Int) = (0, 0) // value so far, groups in it
        var head: (UInt128, Int) = (0, 0)
        if let gap {
            guard let h = parseGroups(u, 0, gap, allowV4Tail: false),
                  let t = parseGroups(u, gap + 2, u.count, allowV4Tail: true), h.1 + t.1 <= 7 else { return nil }
            head = h; groups = t
            // Head groups go to the top, tail groups stay at the bottom, zeros between.
            return head.0 << (16 * (8 - head.1)) | groups.0
        }
        guard let all = parseGroups(u, 0, u.count, allowV4Tail: true), all.1 == 8 else { return nil }
        return all.0
    }

    /// The groups of u[start..<end] (":"-separated; none when empty) as one right-aligned value
    /// and their count; an IPv4 tail counts as two.
    private static func parseGroups(_ u: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                                    allowV4Tail: Bool) -> (UInt128, Int)? {
        if start == end { return (0, 0) }
        var value: UInt128 = 0, count = 0, i = start
        while true {
            var j = i
            while j < end && u[j] != UInt8(ascii: ":") { j += 1 }
            let item = UnsafeBufferPointer(rebasing: u[i..<j])
            if allowV4Tail, j == end, item.contains(UInt8(ascii: ".")) {
                guard let v4 = IPv4Text.parse(item) else { return nil }
                value = value << 32 | UInt128(v4); count += 2
            } else {
                guard !item.isEmpty, item.count <= 4 else { return nil }
                var g: UInt128 = 0
                for c in item {
                    guard let d = hexDigit(c) else { return nil }
                    g = g << 4 | UInt128(d)
                }
                value = value << 16 | g; count += 1
            }
            if count > 8 { return nil }
            if j == end { return (value, count) }
            i = j + 1
        }
    }

    private static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }

    static func format(_ v: UInt128) -> String {
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: v >> (16 * (7 - $0))) }
        // Longest run of zero groups (length >= 2, first on ties) becomes "::".
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLen)..<8)
    }
}

/// A 48-bit Ethernet (MAC) address.
public struct MACAddress: Sendable, Hashable, CustomStringConvertible {
    public var bytes: [UInt8]
    public init(bytes: [UInt8]) { precondition(bytes.count == 6); self.bytes = bytes }

    /// Parses `60:60:1f:12:34:56` or `60-60-1F-12-34-56`, case-insensitive.
    public static func parse(_ s: String) -> MACAddress? {
        let sep: Character = s.contains("-") ? "-" : ":"
        let parts = s.split(separator: sep, omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard p.count == 2, p.allSatisfy(\.isHexDigit), let v = UInt8(p, radix: 16) else { return nil }
            out.append(v)
        }
        return MACAddress(bytes: out)
    }

    /// Lowercase, colon-separated, as nft prints it.
    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }
}
