/// An IPv4 or IPv6 network (an address is a network with a full-length prefix).
///
/// Held as one fixed-size integer, not an array: a catalogue of 100,000 networks is parsed,
/// compared, sorted and printed without an allocation per address. `bytes` gives the network
/// order bytes where they are needed (netlink keys).
public struct IPNetwork: Sendable, Hashable {
    /// The address as an integer, right-aligned (an IPv4 address is the low 32 bits); host bits
    /// beyond the prefix are 0.
    public private(set) var value: UInt128
    public var prefixLength: Int
    public private(set) var isIPv4: Bool

    /// The network `value`/`prefixLength` of the family; host bits beyond the prefix are cleared.
    public init(value: UInt128, prefixLength: Int, isIPv4: Bool) {
        let width = isIPv4 ? 32 : 128
        precondition(prefixLength >= 0 && prefixLength <= width)
        precondition(!isIPv4 || value <= UInt128(UInt32.max), "an IPv4 value has 32 bits")
        self.value = value & ~IPNetwork.hostMask(width: width, prefixLength: prefixLength)
        self.prefixLength = prefixLength
        self.isIPv4 = isIPv4
    }

    public init(bytes: [UInt8], prefixLength: Int) {
        precondition(bytes.count == 4 || bytes.count == 16, "IPNetwork needs 4 or 16 bytes")
        var v: UInt128 = 0
        for b in bytes { v = v << 8 | UInt128(b) }
        self.init(value: v, prefixLength: prefixLength, isIPv4: bytes.count == 4)
    }

    /// The address bytes in network order (4 or 16).
    public var bytes: [UInt8] {
        get { IPNetwork.bytes(of: value, count: byteCount) }
        set { self = IPNetwork(bytes: newValue, prefixLength: min(prefixLength, newValue.count * 8)) }
    }

    /// Bits of an address of this family: 32 or 128.
    public var bitWidth: Int { isIPv4 ? 32 : 128 }
    var byteCount: Int { isIPv4 ? 4 : 16 }
    public var isHost: Bool { prefixLength == bitWidth }

    /// The bits beyond a prefix, set (0 for a full-length prefix).
    @inline(__always)
    static func hostMask(width: Int, prefixLength: Int) -> UInt128 {
        // Swift's >> is a smart shift: by 128 or more it gives 0.
        UInt128.max >> (128 - width + prefixLength)
    }

    /// The last address of the network as an integer (see `value`).
    public var lastValue: UInt128 { value | IPNetwork.hostMask(width: bitWidth, prefixLength: prefixLength) }

    /// First address of the network (network order).
    public var first: [UInt8] { bytes }
    /// Last address of the network (network order).
    public var last: [UInt8] { IPNetwork.bytes(of: lastValue, count: byteCount) }

    /// The RFC 6052 image of this IPv4 network under an IPv6 /96 prefix (NAT64): the prefix's
    /// 12 bytes, then the IPv4 address; nil for an IPv6 network or a prefix that is not /96.
    public func nat64Image(under prefix: IPNetwork) -> IPNetwork? {
        guard isIPv4, !prefix.isIPv4, prefix.prefixLength == 96 else { return nil }
        return IPNetwork(value: prefix.value | value, prefixLength: 96 + prefixLength, isIPv4: false)
    }

    /// True when the two networks share at least one address.
    public func overlaps(_ other: IPNetwork) -> Bool {
        guard isIPv4 == other.isIPv4 else { return false }
        let mask = ~IPNetwork.hostMask(width: bitWidth, prefixLength: min(prefixLength, other.prefixLength))
        return value & mask == other.value & mask
    }

    /// True when `other` lies wholly inside this network.
    public func contains(_ other: IPNetwork) -> Bool {
        guard isIPv4 == other.isIPv4, other.prefixLength >= prefixLength else { return false }
        return other.value & ~IPNetwork.hostMask(width: bitWidth, prefixLength: prefixLength) == value
    }

    public static func masked(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        var out = bytes
        for i in 0..<out.count {
            let bitsHere = max(0, min(8, prefix - i * 8))
            out[i] &= bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bitsHere))
        }
        return out
    }

    static func bytes(of value: UInt128, count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = UInt8(truncatingIfNeeded: value >> ((count - 1 - i) * 8)) }
            initialized = count
        }
    }
}
