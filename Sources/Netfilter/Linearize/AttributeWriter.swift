import CNetfilter

/// A netlink message written attribute by attribute into one growing buffer, laid out as
/// libmnl lays it out (`mnl_attr_put`, `mnl_attr_nest_start`): each attribute's length without
/// its padding, zero padding to 4 bytes, nests flagged NLA_F_NESTED and sized to their end.
///
/// Set elements are written this way rather than through libnftnl objects: at 100k catalogue
/// networks, an object per element (allocated, filled, copied into a 64 KiB scratch buffer per
/// message) was a sixth of `dronewall apply`'s own time. The bytes are libnftnl's
/// (`LinearizerElementTests` compares them).
struct AttributeWriter {
    /// One scratch buffer for every message it writes: each message is copied out at its exact
    /// size, so 100k elements' messages hold no spare capacity while the batch is built.
    private var bytes: [UInt8] = []

    init(capacity: Int = 1 << 14) {
        bytes.reserveCapacity(capacity)
    }

    /// Starts a message after `header` (nlmsghdr and nfgenmsg, as `buildMessage` writes them).
    mutating func start(header: [UInt8]) {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: header)
    }

    /// The message, with nlmsg_len set.
    mutating func finish() -> [UInt8] {
        let length = UInt32(bytes.count)
        for i in 0..<4 { bytes[i] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(i))) }
        return bytes.withUnsafeBufferPointer { Array($0) }  // a copy (an array of the whole would share)
    }

    private mutating func header(length: Int, type: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: length))
        bytes.append(UInt8(truncatingIfNeeded: length >> 8))
        bytes.append(UInt8(truncatingIfNeeded: type))
        bytes.append(UInt8(truncatingIfNeeded: type >> 8))
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }


    mutating func put(_ type: UInt32, _ value: [UInt8]) {
        header(length: 4 + value.count, type: UInt16(type))
        bytes.append(contentsOf: value)
        pad()
    }

    /// A NUL-terminated string (`mnl_attr_put_strz`).
    mutating func putString(_ type: UInt32, _ value: String) {
        let utf8 = value.utf8
        header(length: 4 + utf8.count + 1, type: UInt16(type))
        bytes.append(contentsOf: utf8)
        bytes.append(0)
        pad()
    }

    mutating func putBigEndian32(_ type: UInt32, _ value: UInt32) {
        header(length: 8, type: UInt16(type))
        appendBigEndian(UInt128(value), count: 4)
    }

    mutating func putBigEndian64(_ type: UInt32, _ value: UInt64) {
        header(length: 12, type: UInt16(type))
        appendBigEndian(UInt128(value), count: 8)
    }

    /// The low `count` bytes of `value`, most significant first: an address key without an
    /// array for it.
    mutating func putBigEndian(_ type: UInt32, _ value: UInt128, count: Int) {
        header(length: 4 + count, type: UInt16(type))
        appendBigEndian(value, count: count)
        pad()
    }

    private mutating func appendBigEndian(_ value: UInt128, count: Int) {
        for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(UInt8(truncatingIfNeeded: value >> (i * 8))) }
    }

    /// Opens a nest; pass what it returns to `endNest` once its attributes are written.
    mutating func beginNest(_ type: UInt32) -> Int {
        let start = bytes.count
        header(length: 0, type: UInt16(type) | UInt16(NLA_F_NESTED))
        return start
    }

    mutating func endNest(_ start: Int) {
        let length = bytes.count - start
        bytes[start] = UInt8(truncatingIfNeeded: length)
        bytes[start + 1] = UInt8(truncatingIfNeeded: length >> 8)
    }
}
