/// Netlink attributes and the byte readers every netlink codec in this module shares.
///
/// Netlink headers (`struct nlmsghdr`, `struct nlattr`) are in host order, which is little-endian on the
/// targets dronewall ships for (amd64, arm64); nfnetlink writes attribute values big-endian.

extension Array where Element == UInt8 {
    // Callers check bounds before these reads.
    @inline(__always) func host16(_ i: Int) -> UInt16 { UInt16(self[i]) | UInt16(self[i + 1]) << 8 }
    @inline(__always) func host32(_ i: Int) -> UInt32 { UInt32(host16(i)) | UInt32(host16(i + 2)) << 16 }
    @inline(__always) func big16(_ i: Int) -> UInt16 { UInt16(self[i]) << 8 | UInt16(self[i + 1]) }
    @inline(__always) func big32(_ i: Int) -> UInt32 { UInt32(big16(i)) << 16 | UInt32(big16(i + 2)) }
    @inline(__always) func big64(_ i: Int) -> UInt64 { UInt64(big32(i)) << 32 | UInt64(big32(i + 4)) }

    mutating func appendHost16(_ v: UInt16) { append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8)]) }
    mutating func appendHost32(_ v: UInt32) { appendHost16(UInt16(v & 0xFFFF)); appendHost16(UInt16(v >> 16)) }

    /// Appends one attribute: header, value, padding to 4 bytes.
    mutating func appendAttribute(_ type: UInt16, _ value: [UInt8]) {
        appendHost16(UInt16(4 + value.count))
        appendHost16(type)
        append(contentsOf: value + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4))
    }
}

/// A value as nfnetlink sends it: big-endian.
func bigEndianBytes(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32($0))) } }

/// One attribute: its type without NLA_F_NESTED / NLA_F_NET_BYTEORDER, where its header starts, its value.
struct NetlinkAttribute {
    var type: UInt16
    var offset: Int
    var value: Range<Int>
}

/// Walks the attributes in `bytes[start..<end]`; stops at the first one whose length is below its header
/// or runs past `end`, and says where in `malformedAt` (trailing bytes shorter than a header are ignored).
struct NetlinkAttributes: Sequence, IteratorProtocol {
    private let bytes: [UInt8]
    private var offset: Int
    private let end: Int
    private(set) var malformedAt: Int?

    init(_ bytes: [UInt8], from start: Int, to end: Int) {
        self.bytes = bytes
        offset = start
        self.end = end
    }

    mutating func next() -> NetlinkAttribute? {
        guard malformedAt == nil, end - offset >= 4 else { return nil }
        let length = Int(bytes.host16(offset))
        guard length >= 4, length <= end - offset else {
            malformedAt = offset
            return nil
        }
        defer { offset += (length + 3) & ~3 }
        return NetlinkAttribute(type: bytes.host16(offset + 2) & Netlink.attributeTypeMask, offset: offset,
                                value: (offset + 4)..<(offset + length))
    }
}
