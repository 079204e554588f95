import CNetfilter

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
        let length = Int(readHost32(message, 0))
        guard length >= headerBytes, length <= message.count else {
            return .failure(.init(.badMessageLength, at: 0))
        }
        return decode(message, start: 0, end: length)
    }

    /// Splits a receive buffer into messages and decodes each (bad ones counted, not fatal).
    public static func decode(buffer: [UInt8]) -> (events: [NflogEvent], malformed: Int) {
        var events: [NflogEvent] = []
        var bad = 0
        let unsplittable = forEachMessage(in: buffer) { type, start, end in
            switch decode(buffer, start: start, end: end) {
            case .success(let e): events.append(e)
            case .failure: bad += 1
            }
        }
        return (events, bad + unsplittable)
    }

    // MARK: - internals

    static let headerBytes = 16 + 4 // nlmsghdr + nfgenmsg
    static let packetType = UInt16(NFNL_SUBSYS_ULOG) << 8 | UInt16(NFULNL_MSG_PACKET.rawValue)
    static let nlmsgNoop: UInt16 = 1, nlmsgError: UInt16 = 2, nlmsgDone: UInt16 = 3

    /// Calls `body(type, start, end)` for every message in `buffer` that is not netlink control
    /// (NOOP, DONE, ERROR: the kernel ends a multi-packet batch with NLMSG_DONE). A header that cannot be
    /// trusted stops the walk and counts as one malformed message (the return value, 0 or 1), since the
    /// next boundary is unknown.
    static func forEachMessage(in buffer: [UInt8],
                               _ body: (_ type: UInt16, _ start: Int, _ end: Int) -> Void) -> Int {
        var offset = 0
        while offset < buffer.count {
            guard buffer.count - offset >= 16 else { return 1 }
            let length = Int(readHost32(buffer, offset))
            guard length >= 16, length <= buffer.count - offset else { return 1 }
            let type = readHost16(buffer, offset + 4)
            if type != nlmsgNoop && type != nlmsgError && type != nlmsgDone {
                body(type, offset, offset + length)
            }
            offset += (length + 3) & ~3
        }
        return 0
    }

    /// Decodes the message in `bytes[start..<end]`; `end` is the message's nlmsg_len end.
    static func decode(_ bytes: [UInt8], start: Int, end: Int) -> Result<NflogEvent, NflogDecodeError> {
        guard end - start >= headerBytes, end <= bytes.count else {
            return .failure(.init(.truncatedHeader, at: 0))
        }
        let type = readHost16(bytes, start + 4)
        guard type == packetType else { return .failure(.init(.notAPacket(type: type), at: 4)) }
        var event = NflogEvent(group: readBig16(bytes, start + 18))
        var sawHeader = false
        var offset = start + headerBytes
        while end - offset >= 4 {
            let length = Int(readHost16(bytes, offset))
            let attrType = readHost16(bytes, offset + 2) & 0x3FFF // minus NLA_F_NESTED / NLA_F_NET_BYTEORDER
            guard length >= 4, length <= end - offset else {
                return .failure(.init(.badAttributeLength, at: offset - start))
            }
            let value = offset + 4, size = length - 4
            func need(_ n: Int) -> NflogDecodeError? {
                size >= n ? nil : NflogDecodeError(.badAttributeSize(type: attrType), at: offset - start)
            }
            switch Int(attrType) {
            case Int(NFULA_PACKET_HDR.rawValue):
                if let e = need(4) { return .failure(e) }
                sawHeader = true
            case Int(NFULA_MARK.rawValue):
                if let e = need(4) { return .failure(e) }
                event.packetMark = readBig32(bytes, value)
            case Int(NFULA_TIMESTAMP.rawValue):
                if let e = need(16) { return .failure(e) }
                let seconds = readBig64(bytes, value), micros = readBig64(bytes, value + 8)
                let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
                let (sum, overflow2) = scaled.addingReportingOverflow(micros)
                event.timestampMicros = overflow || overflow2 ? nil : sum
            case Int(NFULA_IFINDEX_INDEV.rawValue):
                if let e = need(4) { return .failure(e) }
                event.inputInterfaceIndex = readBig32(bytes, value)
            case Int(NFULA_IFINDEX_OUTDEV.rawValue):
                if let e = need(4) { return .failure(e) }
                event.outputInterfaceIndex = readBig32(bytes, value)
            case Int(NFULA_HWADDR.rawValue):
                // struct nfulnl_msg_packet_hw: be16 length, 2 bytes pad, 8 bytes address.
                if let e = need(12) { return .failure(e) }
                let n = min(Int(readBig16(bytes, value)), 8)
                event.hardwareSource = Array(bytes[(value + 4)..<(value + 4 + n)])
            case Int(NFULA_PREFIX.rawValue):
                let raw = bytes[value..<(value + size)]
                event.prefix = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            case Int(NFULA_UID.rawValue):
                if let e = need(4) { return .failure(e) }
                event.uid = readBig32(bytes, value)
            case Int(NFULA_SEQ.rawValue):
                if let e = need(4) { return .failure(e) }
                event.sequence = readBig32(bytes, value)
            case Int(NFULA_CT.rawValue):
                switch conntrackMark(bytes, start: value, end: value + size) {
                case .success(let mark): event.conntrackMark = mark
                case .failure(let bad): return .failure(.init(.badAttributeLength, at: bad.at - start))
                }
            case Int(NFULA_PAYLOAD.rawValue):
                event.packet = packetSummary(bytes, start: value, end: value + size)
            default:
                break // attributes we do not use (GID, HWTYPE, HWHEADER, CT_INFO, VLAN, ...)
            }
            offset += (length + 3) & ~3
        }
        guard sawHeader else { return .failure(.init(.missingPacketHeader, at: end - start)) }
        return .success(event)
    }

    struct Offset: Error { var at: Int; init(_ at: Int) { self.at = at } }

    /// CTA_MARK from the nested ctnetlink attributes of NFULA_CT (nil when the conntrack entry has no mark).
    static func conntrackMark(_ bytes: [UInt8], start: Int, end: Int) -> Result<UInt32?, Offset> {
        var offset = start, mark: UInt32? = nil
        while end - offset >= 4 {
            let length = Int(readHost16(bytes, offset)), type = readHost16(bytes, offset + 2) & 0x3FFF
            guard length >= 4, length <= end - offset else { return .failure(Offset(offset)) }
            if Int(type) == Int(CTA_MARK.rawValue) {
                guard length >= 8 else { return .failure(Offset(offset)) }
                mark = readBig32(bytes, offset + 4)
            }
            offset += (length + 3) & ~3
        }
        return .success(mark)
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
                                        length: Int(readBig16(bytes, start + 2)))
            // Only the first fragment carries the transport header.
            let fragmentOffset = readBig16(bytes, start + 6) & 0x1FFF
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
                    firstFragment = readBig16(bytes, offset + 2) & 0xFFF8 == 0
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
                                        length: 40 + Int(readBig16(bytes, start + 4)))
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
            summary.sourcePort = readBig16(bytes, offset)
            summary.destinationPort = readBig16(bytes, offset + 2)
        case .icmp, .icmpv6:
            guard end - offset >= 2 else { return }
            summary.icmpType = bytes[offset]
            summary.icmpCode = bytes[offset + 1]
        case .other:
            return
        }
    }

    // Callers check bounds before these reads.
    @inline(__always) static func readHost16(_ b: [UInt8], _ i: Int) -> UInt16 {
        UInt16(b[i]) | UInt16(b[i + 1]) << 8
    }
    @inline(__always) static func readHost32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
    @inline(__always) static func readBig16(_ b: [UInt8], _ i: Int) -> UInt16 {
        UInt16(b[i]) << 8 | UInt16(b[i + 1])
    }
    @inline(__always) static func readBig32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }
    @inline(__always) static func readBig64(_ b: [UInt8], _ i: Int) -> UInt64 {
        UInt64(readBig32(b, i)) << 32 | UInt64(readBig32(b, i + 4))
    }
}
