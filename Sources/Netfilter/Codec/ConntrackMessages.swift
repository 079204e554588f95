import NetAddress

/// ctnetlink (the conntrack subsystem of nfnetlink) as plain bytes: the dump request filtered by
/// conntrack mark, the entries it answers with, and the mark update that names one entry by its
/// original tuple. Constants from linux/netfilter/nfnetlink_conntrack.h and nfnetlink.h.
enum Ctnetlink {
    static let subsystem: UInt16 = 1          // NFNL_SUBSYS_CTNETLINK
    static let new: UInt16 = 0                // IPCTNL_MSG_CT_NEW (also the type of dumped entries)
    static let get: UInt16 = 1                // IPCTNL_MSG_CT_GET

    /// enum ctattr_type (CTA_*)
    static let tupleOrig: UInt16 = 1          // CTA_TUPLE_ORIG
    static let mark: UInt16 = 8               // CTA_MARK
    static let zone: UInt16 = 18              // CTA_ZONE
    static let markMask: UInt16 = 21          // CTA_MARK_MASK
    /// enum ctattr_tuple
    static let tupleIP: UInt16 = 1            // CTA_TUPLE_IP
    static let tupleProto: UInt16 = 2         // CTA_TUPLE_PROTO
    /// enum ctattr_ip
    static let ipv4Source: UInt16 = 1, ipv4Destination: UInt16 = 2   // CTA_IP_V4_SRC, CTA_IP_V4_DST
    static let ipv6Source: UInt16 = 3, ipv6Destination: UInt16 = 4   // CTA_IP_V6_SRC, CTA_IP_V6_DST
    /// enum ctattr_l4proto
    static let protoNumber: UInt16 = 1, sourcePort: UInt16 = 2, destinationPort: UInt16 = 3

    static let nested: UInt16 = 0x8000        // NLA_F_NESTED
    static let inet: UInt8 = 2                // AF_INET
    static let inet6: UInt8 = 10              // AF_INET6
    static let unspecified: UInt8 = 0         // AF_UNSPEC: every family

    static func type(_ message: UInt16) -> UInt16 { subsystem << 8 | message }

    /// `nlmsghdr` + `nfgenmsg` + attributes, sequence number left to the sender.
    static func message(_ kind: UInt16, flags: UInt16, family: UInt8, sequence: UInt32, _ attributes: [UInt8]) -> [UInt8] {
        var b: [UInt8] = []
        b.appendHost32(UInt32(16 + 4 + attributes.count))
        b.appendHost16(type(kind))
        b.appendHost16(flags)
        b.appendHost32(sequence)
        b.appendHost32(0)
        b += [family, Nfnetlink.version0, 0, 0]
        return b + attributes
    }

    /// Dumps every entry (both families) whose mark has `value` under `mask`: the kernel filters.
    static func dumpRequest(markValue: UInt32, mask: UInt32, sequence: UInt32) -> [UInt8] {
        var a: [UInt8] = []
        a.appendAttribute(mark, bigEndianBytes(markValue))
        a.appendAttribute(markMask, bigEndianBytes(mask))
        return message(get, flags: Netlink.request | Netlink.dump, family: unspecified, sequence: sequence, a)
    }

    /// Sets the mark of the entry `flow` names (no create flag: an entry that went meanwhile is
    /// ENOENT, never a new one).
    static func markUpdate(_ flow: ConntrackFlow, mark newMark: UInt32, sequence: UInt32) -> [UInt8] {
        var a = flow.identity
        a.appendAttribute(mark, bigEndianBytes(newMark))
        return message(new, flags: Netlink.request | Netlink.ack, family: flow.family, sequence: sequence, a)
    }

    /// One dumped entry, or nil when the message is not one or lacks what identifies it.
    static func decode(_ m: NetlinkMessage) -> ConntrackFlow? {
        let b = m.bytes
        guard m.rawType == type(new), b.count >= 20 else { return nil }
        var flow = ConntrackFlow(family: b[16], identity: [])
        for a in NetlinkAttributes(b, from: 20, to: b.count) {
            switch a.type {
            case tupleOrig:
                flow.identity += copy(b, a)
                decodeTuple(b, a.value, into: &flow)
            case zone:
                flow.identity += copy(b, a)
            case mark where a.value.count == 4:
                flow.mark = b.big32(a.value.lowerBound)
            default: break
            }
        }
        guard flow.destination != nil, !flow.identity.isEmpty else { return nil }
        return flow
    }

    private static func decodeTuple(_ b: [UInt8], _ range: Range<Int>, into flow: inout ConntrackFlow) {
        for part in NetlinkAttributes(b, from: range.lowerBound, to: range.upperBound) {
            switch part.type {
            case tupleIP:
                for ip in NetlinkAttributes(b, from: part.value.lowerBound, to: part.value.upperBound) {
                    let bytes = Array(b[ip.value])
                    guard bytes.count == 4 || bytes.count == 16 else { continue }
                    let address = IPNetwork(bytes: bytes, prefixLength: bytes.count * 8)
                    switch ip.type {
                    case ipv4Source, ipv6Source: flow.source = address
                    case ipv4Destination, ipv6Destination: flow.destination = address
                    default: break
                    }
                }
            case tupleProto:
                for p in NetlinkAttributes(b, from: part.value.lowerBound, to: part.value.upperBound) {
                    switch p.type {
                    case protoNumber where p.value.count == 1: flow.protocolNumber = b[p.value.lowerBound]
                    case sourcePort where p.value.count == 2: flow.sourcePort = b.big16(p.value.lowerBound)
                    case destinationPort where p.value.count == 2: flow.destinationPort = b.big16(p.value.lowerBound)
                    default: break
                    }
                }
            default: break
            }
        }
    }

    /// A dumped entry as the kernel writes one (original tuple, zone 0 left out, mark): what the
    /// decoder reads; tests and fake kernels build their answers with it.
    package static func entry(family: UInt8, source: String, destination: String, protocolNumber: UInt8,
                              ports: (UInt16, UInt16), mark markValue: UInt32, sequence: UInt32 = 0) -> [UInt8] {
        let v6 = family == inet6
        let (s, d) = ((try? IPNetwork.parse(source))?.bytes ?? [], (try? IPNetwork.parse(destination))?.bytes ?? [])
        var ip: [UInt8] = [], proto: [UInt8] = [], tuple: [UInt8] = [], a: [UInt8] = []
        ip.appendAttribute(v6 ? ipv6Source : ipv4Source, s)
        ip.appendAttribute(v6 ? ipv6Destination : ipv4Destination, d)
        proto.appendAttribute(protoNumber, [protocolNumber])
        proto.appendAttribute(sourcePort, [UInt8(ports.0 >> 8), UInt8(ports.0 & 0xFF)])
        proto.appendAttribute(destinationPort, [UInt8(ports.1 >> 8), UInt8(ports.1 & 0xFF)])
        tuple.appendAttribute(tupleIP | nested, ip)
        tuple.appendAttribute(tupleProto | nested, proto)
        a.appendAttribute(tupleOrig | nested, tuple)
        a.appendAttribute(mark, bigEndianBytes(markValue))
        return message(new, flags: Netlink.multipart, family: family, sequence: sequence, a)
    }

    /// An attribute as the kernel wrote it (header and flags kept), padded to 4 bytes.
    private static func copy(_ b: [UInt8], _ a: NetlinkAttribute) -> [UInt8] {
        let raw = Array(b[a.offset..<a.value.upperBound])
        return raw + [UInt8](repeating: 0, count: (4 - raw.count % 4) % 4)
    }
}
