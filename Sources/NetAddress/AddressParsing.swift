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
        if !net.isIPv4, net.bytes[0..<10].allSatisfy({ $0 == 0 }), net.bytes[10] == 0xff, net.bytes[11] == 0xff,
           net.prefixLength >= 96 {
            throw .ipv4Mapped(IPNetwork.format(address: Array(net.bytes[12...])))
        }
        return net
    }

    static func parseAny(_ text: String) throws(AddressParseError) -> IPNetwork {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let addressText = String(parts[0])
        guard let bytes = parseIPv4(addressText) ?? parseIPv6(addressText) else { throw .notAnAddress }
        let maxPrefix = bytes.count * 8
        var prefix = maxPrefix
        if parts.count == 2 {
            let p = parts[1]
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(p), n <= maxPrefix
            else { throw .badPrefixLength(maximum: maxPrefix) }
            prefix = n
        }
        let net = IPNetwork(bytes: bytes, prefixLength: prefix)
        if net.bytes != bytes { throw .hostBitsSet(network: net.description) }
        return net
    }

    /// Parses a dotted-quad IPv4 address (no leading zeros, no shorthand).
    public static func parseIPv4(_ s: String) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }),
                  !(p.count > 1 && p.first == "0"), let v = UInt8(p) else { return nil }
            out.append(v)
        }
        return out
    }

    /// Parses an IPv6 address in any RFC 4291 text form, including an embedded IPv4 tail.
    public static func parseIPv6(_ s: String) -> [UInt8]? {
        guard s.contains(":"), s.utf8.count <= 45 else { return nil }
        let halves = s.components(separatedByDoubleColon: ())
        guard halves.count <= 2 else { return nil }
        func groups(_ part: Substring, allowV4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let items = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, item) in items.enumerated() {
                if allowV4Tail, i == items.count - 1, item.contains(".") {
                    guard let v4 = parseIPv4(String(item)) else { return nil }
                    out.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    out.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                } else {
                    guard !item.isEmpty, item.count <= 4, item.allSatisfy(\.isHexDigit),
                          let v = UInt16(item, radix: 16) else { return nil }
                    out.append(v)
                }
            }
            return out
        }
        var all: [UInt16]
        if halves.count == 2 {
            guard let head = groups(halves[0], allowV4Tail: false),
                  let tail = groups(halves[1], allowV4Tail: true),
                  head.count + tail.count <= 7 else { return nil }
            all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let g = groups(halves[0], allowV4Tail: true), g.count == 8 else { return nil }
            all = g
        }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// Prints an address in canonical form (RFC 5952 for IPv6).
    public static func format(address bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
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

extension IPNetwork: CustomStringConvertible {
    /// `192.0.2.1` for a host, `192.0.2.0/24` for a network.
    public var description: String {
        let a = IPNetwork.format(address: bytes)
        return isHost ? a : "\(a)/\(prefixLength)"
    }
}

extension String {
    /// Splits at the first "::" only; a second "::" yields three parts (invalid).
    fileprivate func components(separatedByDoubleColon: ()) -> [Substring] {
        var parts: [Substring] = []
        var rest = self[...]
        while let r = rest.range(ofDoubleColon: ()) {
            parts.append(rest[rest.startIndex..<r.lowerBound])
            rest = rest[r.upperBound...]
        }
        parts.append(rest)
        return parts
    }
}

extension Substring {
    fileprivate func range(ofDoubleColon: ()) -> Range<Index>? {
        var i = startIndex
        while i < endIndex {
            let n = index(after: i)
            if n < endIndex, self[i] == ":", self[n] == ":" { return i..<index(after: n) }
            i = n
        }
        return nil
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
