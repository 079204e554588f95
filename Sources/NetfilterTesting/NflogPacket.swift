/// A packet as the kernel logs it to NFLOG: prefix, sequence number, kernel timestamp and an IPv4
/// UDP or TCP header. Encodes the netlink message the way the kernel does (host-order headers,
/// big-endian values).
public struct NflogPacket: Sendable {
    public var prefix: String
    public var sequence: UInt32
    public var group: UInt16 = 7140
    /// Kernel timestamp (NFULA_TIMESTAMP); nil for packets without one (output hook).
    public var timestampMicros: Int64?
    public var source: [UInt8] = [192, 0, 2, 10]
    public var destination: [UInt8] = [203, 0, 113, 10]
    public var sourcePort: UInt16 = 40000
    public var destinationPort: UInt16 = 443
    /// 6 TCP, 17 UDP.
    public var proto: UInt8 = 6

    public init(prefix: String, sequence: UInt32, timestampMicros: Int64? = nil) {
        self.prefix = prefix
        self.sequence = sequence
        self.timestampMicros = timestampMicros
    }

    /// NFULA_* attribute types (linux/netfilter/nfnetlink_log.h).
    enum Attribute: UInt16 {
        case packetHeader = 1, timestamp = 3, payload = 9, prefix = 10, sequence = 12
    }

    public func message() -> [UInt8] {
        var attributes: [(Attribute, [UInt8])] = [(.packetHeader, [0x08, 0x00, 2, 0])] // ETH_P_IP, hook
        attributes.append((.prefix, Array(prefix.utf8) + [0]))
        attributes.append((.sequence, big32(sequence)))
        if let t = timestampMicros {
            let sec = UInt64(t / 1_000_000), usec = UInt64(t % 1_000_000)
            attributes.append((.timestamp, big64(sec) + big64(usec)))
        }
        attributes.append((.payload, ipv4Packet()))
        var body: [UInt8] = [2, 0] + big16(group)  // nfgenmsg: AF_INET, version 0, group
        for (type, value) in attributes {
            body += host16(UInt16(4 + value.count)) + host16(type.rawValue) + value
            body += [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
        }
        let length = UInt32(16 + body.count)
        // NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET, no flags, sequence 0, port 0.
        let header: [UInt8] = host32(length) + [0x00, 0x04, 0, 0] + [UInt8](repeating: 0, count: 8)
        return header + body
    }

    /// An IPv4 header and the first 8 bytes of the transport header.
    func ipv4Packet() -> [UInt8] {
        let total: UInt16 = 20 + 8
        return [0x45, 0] + big16(total) + [0, 0, 0x40, 0, 64, proto, 0, 0] + source + destination
            + big16(sourcePort) + big16(destinationPort) + [0, 0, 0, 0]
    }
}

func big16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
func big32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32($0))) } }
func big64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) } }
func host16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
func host32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
