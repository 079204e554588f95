/// Pure decoder of NFLOG (nfnetlink_log) packet messages: bytes in, `NflogEvent` out.
///
/// Layout (include/uapi/linux/netfilter/nfnetlink_log.h): `struct nlmsghdr` (host order), `struct nfgenmsg`
/// (res_id = group, big endian), then netlink attributes whose headers are host order and whose values the
/// kernel writes big endian. Every read is bounds-checked; no input traps.
public enum NflogDecoder {
    /// Decodes one netlink message (nlmsghdr included) of type NFULNL_MSG_PACKET.
    /// Never traps on any input: truncated/garbage input returns .failure with a reason.
    public static func decode(message: [UInt8]) -> Result<NflogEvent, NflogDecodeError> {
        guard message.count >= headerBytes else { return .failure(.init(.truncatedHeader, at: 0)) }
        let length = Int(message.host32(0))
        guard length >= headerBytes, length <= message.count else {
            return .failure(.init(.badMessageLength, at: 0))
        }
        return decode(message, start: 0, end: length)
    }

    /// Splits a receive buffer into messages and decodes each (bad ones counted, not fatal). Netlink control
    /// messages are skipped: the kernel ends a multi-packet batch with NLMSG_DONE.
    public static func decode(buffer: [UInt8]) -> (events: [NflogEvent], malformed: Int) {
        var events: [NflogEvent] = []
        let (messages, malformedAt) = NetlinkMessage.ranges(in: buffer)
        // A header that cannot be trusted ends the walk and counts as one malformed message.
        var bad = malformedAt == nil ? 0 : 1
        for m in messages {
            switch buffer.host16(m.lowerBound + 4) {
            case Netlink.noop, Netlink.error, Netlink.done: continue
            default: break
            }
            switch decode(buffer, start: m.lowerBound, end: m.upperBound) {
            case .success(let e): events.append(e)
            case .failure: bad += 1
            }
        }
        return (events, bad)
    }

    // MARK: - internals

    static let headerBytes = 16 + 4 // nlmsghdr + nfgenmsg

    /// Decodes the message in `bytes[start..<end]`; `end` is the message's nlmsg_len end.
    static func decode(_ bytes: [UInt8], start: Int, end: Int) -> Result<NflogEvent, NflogDecodeError> {
        guard end - start >= headerBytes, end <= bytes.count else {
            return .failure(.init(.truncatedHeader, at: 0))
        }
        let type = bytes.host16(start + 4)
        guard type == NfnetlinkLog.packet else { return .failure(.init(.notAPacket(type: type), at: 4)) }
        var event = NflogEvent(group: bytes.big16(start + 18))
        var sawHeader = false
        var attributes = NetlinkAttributes(bytes, from: start + headerBytes, to: end)
        while let a = attributes.next() {
            let value = a.value.lowerBound, size = a.value.count
            func need(_ n: Int) -> NflogDecodeError? {
                size >= n ? nil : NflogDecodeError(.badAttributeSize(type: a.type), at: a.offset - start)
            }
            switch NfnetlinkLog.Attribute(rawValue: a.type) {
            case .packetHeader:
                if let e = need(4) { return .failure(e) }
                sawHeader = true
            case .mark:
                if let e = need(4) { return .failure(e) }
                event.packetMark = bytes.big32(value)
            case .timestamp:
                if let e = need(16) { return .failure(e) }
                let seconds = bytes.big64(value), micros = bytes.big64(value + 8)
                let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
                let (sum, overflow2) = scaled.addingReportingOverflow(micros)
                event.timestampMicros = overflow || overflow2 ? nil : sum
            case .inputInterface:
                if let e = need(4) { return .failure(e) }
                event.inputInterfaceIndex = bytes.big32(value)
            case .outputInterface:
                if let e = need(4) { return .failure(e) }
                event.outputInterfaceIndex = bytes.big32(value)
            case .hardwareAddress:
                // struct nfulnl_msg_packet_hw: be16 length, 2 bytes pad, 8 bytes address.
                if let e = need(12) { return .failure(e) }
                let n = min(Int(bytes.big16(value)), 8)
                event.hardwareSource = Array(bytes[(value + 4)..<(value + 4 + n)])
            case .prefix:
                event.prefix = String(decoding: bytes[a.value].prefix { $0 != 0 }, as: UTF8.self)
            case .uid:
                if let e = need(4) { return .failure(e) }
                event.uid = bytes.big32(value)
            case .sequence:
                if let e = need(4) { return .failure(e) }
                event.sequence = bytes.big32(value)
            case .conntrack:
                switch conntrackMark(bytes, start: value, end: a.value.upperBound) {
                case .success(let mark): event.conntrackMark = mark
                case .failure(let bad): return .failure(.init(.badAttributeLength, at: bad.at - start))
                }
            case .payload:
                event.packet = packetSummary(bytes, start: value, end: a.value.upperBound)
            default:
                break // attributes we do not use (GID, HWTYPE, HWHEADER, CT_INFO, VLAN, ...)
            }
        }
        if let bad = attributes.malformedAt { return .failure(.init(.badAttributeLength, at: bad - start)) }
        guard sawHeader else { return .failure(.init(.missingPacketHeader, at: end - start)) }
        return .success(event)
    }

    struct Offset: Error { var at: Int; init(_ at: Int) { self.at = at } }

    /// CTA_MARK from the nested ctnetlink attributes of NFULA_CT (nil when the conntrack entry has no mark).
    static func conntrackMark(_ bytes: [UInt8], start: Int, end: Int) -> Result<UInt32?, Offset> {
        var attributes = NetlinkAttributes(bytes, from: start, to: end), mark: UInt32? = nil
        while let a = attributes.next() {
            guard a.type == NfnetlinkLog.conntrackMark else { continue }
            guard a.value.count >= 4 else { return .failure(Offset(a.offset)) }
            mark = bytes.big32(a.value.lowerBound)
        }
        return attributes.malformedAt.map { .failure(Offset($0)) } ?? .success(mark)
    }

    /// The IP and transport headers at `bytes[start..<end]`; nil unless it starts with a whole IPv4 or
    /// IPv6 header. A transport header cut short by the copy range leaves ports and ICMP fields nil.
    static func packetSummary(_ bytes: [UInt8], start: Int, end: Int) -> PacketSummary? {
        guard end > start else { return nil }
        switch bytes[start] >> 4 {
        case 4:
            let headerLength = Int(bytes[start] & 0x0F) * 4
            guard headerLength >= 20, end - start >= 20 else { return nil }
            let proto = PacketSummary.Proto(number: bytes[start + 9])
            var summary = PacketSummary(isIPv6: false, proto: proto,
                                        source: Array(bytes[(start + 12)..<(start + 16)]),
                                        destination: Array(bytes[(start + 16)..<(start + 20)]),
                                        length: Int(bytes.big16(start + 2)))
            // Only the first fragment carries the transport header.
            let fragmentOffset = bytes.big16(start + 6) & 0x1FFF
            if fragmentOffset == 0, end - start >= headerLength {
                transport(bytes, at: start + headerLength, end: end, into: &summary)
            }
            return summary
        case 6:
            guard end - start >= 40 else { return nil }
            var next = bytes[start + 6]
            var offset = start + 40
            var firstFragment = true
            // Skip extension headers (hop-by-hop, routing, fragment, destination options, AH).
            walk: for _ in 0..<8 {
                switch next {
                case 0, 43, 60:
                    guard end - offset >= 2 else { break walk }
                    next = bytes[offset]
                    offset += (Int(bytes[offset + 1]) + 1) * 8
                case 44:
                    guard end - offset >= 8 else { break walk }
                    firstFragment = bytes.big16(offset + 2) & 0xFFF8 == 0
                    next = bytes[offset]
                    offset += 8
                case 51:
                    guard end - offset >= 2 else { break walk }
                    next = bytes[offset]
                    offset += (Int(bytes[offset + 1]) + 2) * 4
                default:
                    break walk
                }
            }
            var summary = PacketSummary(isIPv6: true, proto: PacketSummary.Proto(number: next),
                                        source: Array(bytes[(start + 8)..<(start + 24)]),
                                        destination: Array(bytes[(start + 24)..<(start + 40)]),
                                        length: 40 + Int(bytes.big16(start + 4)))
            if firstFragment, offset <= end {
                transport(bytes, at: offset, end: end, into: &summary)
            }
            return summary
        default:
            return nil
        }
    }

    static func transport(_ bytes: [UInt8], at offset: Int, end: Int, into summary: inout PacketSummary) {
        switch summary.proto {
        case .tcp, .udp:
            guard end - offset >= 4 else { return }
            summary.sourcePort = bytes.big16(offset)
            summary.destinationPort = bytes.big16(offset + 2)
        case .icmp, .icmpv6:
            guard end - offset >= 2 else { return }
            summary.icmpType = bytes[offset]
            summary.icmpCode = bytes[offset + 1]
        case .other:
            return
        }
    }
}
