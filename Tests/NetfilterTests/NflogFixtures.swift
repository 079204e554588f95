/// NFLOG packet messages as the kernel sent them, and a builder for hand-made ones.
///
/// The captured fixtures are real kernel bytes (Linux 6.18, nft 1.x), taken once as follows: three
/// namespaces drone (veth d0, 02:00:00:00:0d:01, 192.0.2.10, 2001:db8:1::10) -> station (s0 ifindex 2,
/// s1 ifindex 3, forwarding on) -> cloud (198.51.100.20, 2001:db8:2::20). The station had
///
///     table inet t {
///       chain fw { type filter hook forward priority 0; policy accept;
///         meta mark set 0x1001 ct mark set 0x2a counter log group 7 prefix "dw drone=a cat=geofence " drop }
///       chain lout { type filter hook output priority 0; policy accept;
///         ip daddr 203.0.113.0/24 meta mark set 0x7 counter log group 7 prefix "dw drone=local cat=telemetry " drop }
///     }
///
/// and a raw NETLINK_NETFILTER socket bound group 7 with NFULNL_COPY_PACKET, range 128, qthreshold 1 and
/// NFULNL_CFG_F_SEQ (this kernel lacks CONFIG_NETFILTER_NETLINK_GLUE_CT, so it refuses
/// NFULNL_CFG_F_CONNTRACK with EOPNOTSUPP: the conntrack fixture below is hand-made). From the drone: a TCP
/// SYN to 198.51.100.20:443, a UDP datagram to :53, an ICMP echo request, the same three over IPv6; then
/// from the station as uid 1000 a UDP datagram to 203.0.113.5:9 (output hook: uid/gid, no input side).
/// The messages are printed as hex, whole, nlmsghdr included; sequence numbers run 0...6.
enum NflogFixtures {
    static let ipv4TCP = bytes(
        "e40000000004000000000000000000000200000708000100080002001d000a0064772064726f6e653d61206361743d67" +
        "656f66656e63652000000000080004000000000208000500000000030800020000001001100008000006000002000000" +
        "0d01000006000f000001000006001100000e000012001000020000000500020000000d01080000001400030000000000" +
        "6b06e21100000000000747b808000c0000000000400009004500003c1ee340003f063087c000020ac6336414dbc401bb" +
        "2412a35800000000a002faf0ec800000020405b40402080ad034a433000000000103030a"
    )

    static let ipv4UDP = bytes(
        "d80000000004000000000000000000000200000708000100080002001d000a0064772064726f6e653d61206361743d67" +
        "656f66656e63652000000000080004000000000208000500000000030800020000001001100008000006000002000000" +
        "0d01000006000f000001000006001100000e000012001000020000000500020000000d01080000001400030000000000" +
        "6b06e21100000000000bdd4008000c0000000001310009004500002d207f40003f112eefc000020ac6336414b00d0035" +
        "0019ec7c64726f6e6577616c6c2d66697874757265000000"
    )

    static let ipv4ICMP = bytes(
        "d00000000004000000000000000000000200000708000100080002001d000a0064772064726f6e653d61206361743d67" +
        "656f66656e63652000000000080004000000000208000500000000030800020000001001100008000006000002000000" +
        "0d01000006000f000001000006001100000e000012001000020000000500020000000d01080000001400030000000000" +
        "6b06e21200000000000130fb08000c00000000022900090045000025d24a40003f017d3bc000020ac63364140800df05" +
        "1234000164726f6e6577616c6c000000"
    )

    static let ipv6TCP = bytes(
        "f80000000004000000000000000000000a0000070800010086dd02001d000a0064772064726f6e653d61206361743d67" +
        "656f66656e63652000000000080004000000000208000500000000030800020000001001100008000006000002000000" +
        "0d01000006000f000001000006001100000e000012001000020000000500020000000d0186dd00001400030000000000" +
        "6b06e212000000000005c69e08000c0000000003540009006000aee20028063f20010db8000100000000000000000010" +
        "20010db80002000000000000000000209e0001bb2c49269f00000000a002fd205bd30000020405a00402080a55d8fc3d" +
        "000000000103030a"
    )

    static let ipv6UDP = bytes(
        "ec0000000004000000000000000000000a0000070800010086dd02001d000a0064772064726f6e653d61206361743d67" +
        "656f66656e63652000000000080004000000000208000500000000030800020000001001100008000006000002000000" +
        "0d01000006000f000001000006001100000e000012001000020000000500020000000d0186dd00001400030000000000" +
        "6b06e21200000000000a5c5c08000c000000000445000900600444520019113f20010db8000100000000000000000010" +
        "20010db8000200000000000000000020828c003500195bcf64726f6e6577616c6c2d66697874757265000000"
    )

    static let ipv6ICMP = bytes(
        "e40000000004000000000000000000000a0000070800010086dd02001d000a0064772064726f6e653d61206361743d67" +
        "656f66656e63652000000000080004000000000208000500000000030800020000001001100008000006000002000000" +
        "0d01000006000f000001000006001100000e000012001000020000000500020000000d0186dd00001400030000000000" +
        "6b06e21200000000000ef1ef08000c00000000053d000900600bdf4500113a3f20010db8000100000000000000000010" +
        "20010db800020000000000000000002080000b151234000164726f6e6577616c6c000000"
    )

    static let ipv4UDPLocalOutput = bytes(
        "8c00000000040000000000000000000002000007080001000800030022000a0064772064726f6e653d6c6f63616c2063" +
        "61743d74656c656d65747279200000000800050000000003080002000000000708000b00000003e808000e00000003e8" +
        "08000c0000000006210009004500001dfc4b40004011d849c6336401cb007105d14900090009665578000000"
    )
    /// All captured fixtures, in capture order (NFULA_SEQ 0...6).
    static let captured = [ipv4TCP, ipv4UDP, ipv4ICMP, ipv6TCP, ipv6UDP, ipv6ICMP, ipv4UDPLocalOutput]

    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var high: UInt8? = nil
        for c in hex.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            default: continue
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return out
    }
}

/// Encodes NFLOG packet messages the way the kernel does (host-order headers, big-endian values).
struct NflogMessageBuilder {
    var group: UInt16 = 7
    var family: UInt8 = 2
    var attributes: [(type: UInt16, value: [UInt8])] = [(1, [0x08, 0x00, 2, 0])] // NFULA_PACKET_HDR

    mutating func add(_ type: UInt16, _ value: [UInt8]) { attributes.append((type, value)) }
    mutating func add32(_ type: UInt16, _ v: UInt32) { add(type, NflogMessageBuilder.big32(v)) }

    static func big32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func big16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func host16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }

    /// A netlink attribute with its padding; lengthOverride writes a bogus nla_len.
    static func attribute(_ type: UInt16, _ value: [UInt8], lengthOverride: UInt16? = nil) -> [UInt8] {
        host16(lengthOverride ?? UInt16(4 + value.count)) + host16(type) + value
            + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
    }

    func build() -> [UInt8] {
        var body: [UInt8] = [family, 0] + NflogMessageBuilder.big16(group)
        for a in attributes { body += NflogMessageBuilder.attribute(a.type, a.value) }
        let length = UInt32(16 + body.count)
        let header: [UInt8] = [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF),
                               UInt8(length >> 24), 0x00, 0x04, 0, 0] + [UInt8](repeating: 0, count: 8)
        return header + body
    }
}
