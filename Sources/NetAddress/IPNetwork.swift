/// An IPv4 or IPv6 network (an address is a network with a full-length prefix).
/// Bytes are in network order.
public struct IPNetwork: Sendable, Hashable {
    public var bytes: [UInt8]
    public var prefixLength: Int

    /// The RFC 6052 image of this IPv4 network under an IPv6 /96 prefix (NAT64): the prefix's
    /// 12 bytes, then the IPv4 address; nil for an IPv6 network or a prefix that is not /96.
    public func nat64Image(under prefix: IPNetwork) -> IPNetwork? {
        guard isIPv4, !prefix.isIPv4, prefix.prefixLength == 96 else { return nil }
        return IPNetwork(bytes: Array(prefix.bytes.prefix(12)) + bytes, prefixLength: 96 + prefixLength)
    }

    public init(bytes: [UInt8], prefixLength: Int) {
        precondition(bytes.count == 4 || bytes.count == 16, "IPNetwork needs 4 or 16 bytes")
        precondition(prefixLength >= 0 && prefixLength <= bytes.count * 8)
        self.bytes = IPNetwork.masked(bytes, prefixLength)
        self.prefixLength = prefixLength
    }

    public var isIPv4: Bool { bytes.count == 4 }
    public var isHost: Bool { prefixLength == bytes.count * 8 }

    /// First address of the network (network order).
    public var first: [UInt8] { bytes }
    /// Last address of the network (network order).
    public var last: [UInt8] {
        var out = bytes
        for bit in prefixLength..<(bytes.count * 8) { out[bit / 8] |= UInt8(0x80 >> (bit % 8)) }
        return out
    }

    /// True when the two networks share at least one address.
    public func overlaps(_ other: IPNetwork) -> Bool {
        guard isIPv4 == other.isIPv4 else { return false }
        let shorter = min(prefixLength, other.prefixLength)
        return IPNetwork.masked(bytes, shorter) == IPNetwork.masked(other.bytes, shorter)
    }

    /// True when `other` lies wholly inside this network.
    public func contains(_ other: IPNetwork) -> Bool {
        guard isIPv4 == other.isIPv4, other.prefixLength >= prefixLength else { return false }
        return IPNetwork.masked(other.bytes, prefixLength) == bytes
    }

    public static func masked(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        var out = bytes
        for i in 0..<out.count {
            let bitsHere = max(0, min(8, prefix - i * 8))
            out[i] &= bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bitsHere))
        }
        return out
    }
}

