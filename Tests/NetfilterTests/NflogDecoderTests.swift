import Testing
@testable import Netfilter

/// The pure NFLOG decoder on captured kernel bytes, hand-made messages and hostile input. No root.
@Suite struct NflogDecoderTests {
    typealias F = NflogFixtures
    typealias B = NflogMessageBuilder
    let prefix = "dw drone=a cat=geofence "
    let droneMAC: [UInt8] = [0x02, 0, 0, 0, 0x0d, 0x01]
    let drone4: [UInt8] = [192, 0, 2, 10], cloud4: [UInt8] = [198, 51, 100, 20]
    let drone6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 1] + [UInt8](repeating: 0, count: 9) + [0x10]
    let cloud6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 2] + [UInt8](repeating: 0, count: 9) + [0x20]

    /// The decoded event; a decode error fails the test.
    func decoded(_ bytes: [UInt8]) throws -> NflogEvent {
        try NflogDecoder.decode(message: bytes).get()
    }

    // MARK: captured kernel bytes

    @Test func capturedIPv4TCP() throws {
        let e = try decoded(F.ipv4TCP)
        #expect(e.group == 7)
        #expect(e.sequence == 0)
        #expect(e.prefix == prefix)
        #expect(e.packetMark == 0x1001)
        #expect(e.inputInterfaceIndex == 2)
        #expect(e.outputInterfaceIndex == 3)
        #expect(e.hardwareSource == droneMAC)
        #expect(e.uid == nil)
        #expect(e.conntrackMark == nil, "the capture kernel refused NFULNL_CFG_F_CONNTRACK")
        #expect(e.timestampMicros == 0x6b06_e211 * 1_000_000 + 0x0747b8)
        #expect(e.packet == PacketSummary(isIPv6: false, proto: .tcp, source: drone4, destination: cloud4,
                                               sourcePort: 0xdbc4, destinationPort: 443, length: 60))
    }

    @Test func capturedIPv4UDP() throws {
        let e = try decoded(F.ipv4UDP)
        #expect(e.sequence == 1)
        #expect(e.prefix == prefix)
        #expect(e.hardwareSource == droneMAC)
        #expect(e.timestampMicros == 0x6b06_e211 * 1_000_000 + 0x0bdd40)
        #expect(e.packet == PacketSummary(isIPv6: false, proto: .udp, source: drone4, destination: cloud4,
                                               sourcePort: 0xb00d, destinationPort: 53, length: 45))
    }

    @Test func capturedIPv4ICMP() throws {
        let e = try decoded(F.ipv4ICMP)
        #expect(e.sequence == 2)
        #expect(e.packetMark == 0x1001)
        #expect(e.packet == PacketSummary(isIPv6: false, proto: .icmp, source: drone4, destination: cloud4,
                                               icmpType: 8, icmpCode: 0, length: 37))
    }

    @Test func capturedIPv6TCP() throws {
        let e = try decoded(F.ipv6TCP)
        #expect(e.sequence == 3)
        #expect(e.prefix == prefix)
        #expect(e.inputInterfaceIndex == 2)
        #expect(e.outputInterfaceIndex == 3)
        #expect(e.hardwareSource == droneMAC)
        #expect(e.packetMark == 0x1001)
        #expect(e.timestampMicros == 0x6b06_e212 * 1_000_000 + 0x05c69e)
        #expect(e.packet == PacketSummary(isIPv6: true, proto: .tcp, source: drone6, destination: cloud6,
                                               sourcePort: 0x9e00, destinationPort: 443, length: 80))
    }

    @Test func capturedIPv6UDP() throws {
        let e = try decoded(F.ipv6UDP)
        #expect(e.sequence == 4)
        #expect(e.packet == PacketSummary(isIPv6: true, proto: .udp, source: drone6, destination: cloud6,
                                               sourcePort: 0x828c, destinationPort: 53, length: 65))
    }

    @Test func capturedICMPv6() throws {
        let e = try decoded(F.ipv6ICMP)
        #expect(e.sequence == 5)
        #expect(e.packet == PacketSummary(isIPv6: true, proto: .icmpv6, source: drone6, destination: cloud6,
                                               icmpType: 128, icmpCode: 0, length: 57))
    }

    /// Output hook: uid of the sending socket, an output interface, no input side and no timestamp.
    @Test func capturedLocalOutputCarriesUID() throws {
        let e = try decoded(F.ipv4UDPLocalOutput)
        #expect(e.sequence == 6)
        #expect(e.prefix == "dw drone=local cat=telemetry ")
        #expect(e.uid == 1000)
        #expect(e.packetMark == 7)
        #expect(e.inputInterfaceIndex == nil)
        #expect(e.outputInterfaceIndex == 3)
        #expect(e.hardwareSource == nil)
        #expect(e.timestampMicros == nil, "the kernel stamps only prerouting, input and forward")
        #expect(e.packet == PacketSummary(isIPv6: false, proto: .udp, source: [198, 51, 100, 1],
                                               destination: [203, 0, 113, 5], sourcePort: 0xd149,
                                               destinationPort: 9, length: 29))
    }

    /// The kernel queues several packets in one datagram and, when it sends more than one, ends with NLMSG_DONE.
    @Test func bufferOfSeveralMessagesEndingInDone() {
        var buffer: [UInt8] = []
        for m in F.captured { buffer += m + [UInt8](repeating: 0, count: (4 - m.count % 4) % 4) }
        buffer += [20, 0, 0, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7] // NLMSG_DONE + nfgenmsg
        let (events, malformed) = NflogDecoder.decode(buffer: buffer)
        #expect(malformed == 0)
        #expect(events.map(\.sequence) == (0...6).map { UInt32($0) })
    }

    // MARK: hand-made messages

    @Test func conntrackMarkFromNestedCTAttribute() throws {
        var b = B()
        b.add(10, Array("dw x\0".utf8))
        // NFULA_CT (nested flag set, as nla_nest_start does), with CTA_STATUS then CTA_MARK.
        let ct = B.attribute(3, B.big32(0x188)) + B.attribute(8, B.big32(0x2a))
        b.add(18 | 0x8000, ct)
        b.add32(11, 0)
        let e = try decoded(b.build())
        #expect(e.conntrackMark == 0x2a)
        #expect(e.prefix == "dw x")
        #expect(e.uid == 0)
        #expect(e.packet == nil, "no payload attribute")
    }

    @Test func missingPacketHeaderIsAnError() {
        var b = B()
        b.attributes = []
        b.add(10, Array("p\0".utf8))
        guard case .failure(let e) = NflogDecoder.decode(message: b.build()) else { Issue.record("decoded"); return }
        #expect(e.reason == .missingPacketHeader)
    }

    @Test func notAPacketMessage() {
        var m = F.ipv4TCP
        m[4] = 1 // NFULNL_MSG_CONFIG
        guard case .failure(let e) = NflogDecoder.decode(message: m) else { Issue.record("decoded"); return }
        #expect(e.reason == .notAPacket(type: 0x0401))
        #expect(e.offset == 4)
    }

    @Test func ipv6ExtensionHeadersAreSkipped() throws {
        // Hop-by-hop (8 bytes) then destination options (16 bytes) then UDP.
        var ip6: [UInt8] = [0x60, 0, 0, 0] + B.big16(8 + 16 + 8) + [0, 64] + drone6 + cloud6
        ip6 += [60, 0] + [UInt8](repeating: 0, count: 6)
        ip6 += [17, 1] + [UInt8](repeating: 0, count: 14)
        ip6 += B.big16(5353) + B.big16(5354) + [0, 8, 0, 0]
        var b = B()
        b.family = 10
        b.add(9, ip6)
        let p = try #require(try decoded(b.build()).packet)
        #expect(p.proto == .udp)
        #expect(p.sourcePort == 5353)
        #expect(p.destinationPort == 5354)
        #expect(p.length == 40 + 32)
    }

    @Test func laterFragmentsHaveNoPorts() throws {
        // IPv4, fragment offset 185 (x 8 bytes), UDP: the bytes after the header are not a UDP header.
        let ip4: [UInt8] = [0x45, 0, 0, 48, 0, 1, 0, 185, 64, 17, 0, 0] + drone4 + cloud4 + [1, 2, 3, 4, 5, 6, 7, 8]
        var b = B()
        b.add(9, ip4)
        let p = try #require(try decoded(b.build()).packet)
        #expect(p.proto == .udp)
        #expect(p.sourcePort == nil)
        #expect(p.length == 48)
        // IPv6 fragment header with a non-zero offset.
        var ip6: [UInt8] = [0x60, 0, 0, 0] + B.big16(16) + [44, 64] + drone6 + cloud6
        ip6 += [6, 0, 0x05, 0x00, 0, 0, 0, 1] + [1, 2, 3, 4, 5, 6, 7, 8]
        b = B()
        b.add(9, ip6)
        let q = try #require(try decoded(b.build()).packet)
        #expect(q.proto == .tcp)
        #expect(q.sourcePort == nil)
    }

    @Test func shortOrForeignPayloads() throws {
        for payload: [UInt8] in [[], [0x45], [0x45] + [UInt8](repeating: 0, count: 18), [0x60] + [UInt8](repeating: 0, count: 38),
                                 [0x08, 0x06, 0, 1], [0x46, 0, 0, 20] + [UInt8](repeating: 0, count: 16)] {
            var b = B()
            b.add(9, payload)
            let e = try decoded(b.build())
            if payload.count >= 20 && payload[0] == 0x46 {
                // An options-bearing header that the copy cut short: addresses known, transport not.
                #expect(e.packet != nil)
                #expect(e.packet?.sourcePort == nil)
            } else {
                #expect(e.packet == nil, "\(payload)")
            }
        }
        // TCP header cut after 2 bytes by the copy range: ports unknown, addresses known.
        var b = B()
        b.add(9, [0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0] + drone4 + cloud4 + [0x12, 0x34])
        let p = try #require(try decoded(b.build()).packet)
        #expect(p.proto == .tcp)
        #expect(p.sourcePort == nil)
        #expect(p.length == 60)
    }

    @Test func prefixWithoutNULAndOversizedHardwareLength() throws {
        var b = B()
        b.add(10, Array("no-nul".utf8))
        b.add(8, B.big16(200) + [0, 0] + [1, 2, 3, 4, 5, 6, 7, 8]) // claims 200 bytes, has 8
        let e = try decoded(b.build())
        #expect(e.prefix == "no-nul")
        #expect(e.hardwareSource == [1, 2, 3, 4, 5, 6, 7, 8])
    }

    // MARK: hostile input

    @Test func everyTruncationOfEveryFixtureFailsCleanly() {
        for fixture in F.captured {
            for n in 0..<fixture.count {
                let cut = Array(fixture.prefix(n))
                guard case .failure = NflogDecoder.decode(message: cut) else {
                    Issue.record("a \(n)-byte prefix decoded although nlmsg_len is \(fixture.count)")
                    return
                }
                // Also with nlmsg_len rewritten to fit, so the attribute walk meets the cut.
                if n >= 20 {
                    var fitted = cut
                    fitted[0] = UInt8(n & 0xFF); fitted[1] = UInt8(n >> 8); fitted[2] = 0; fitted[3] = 0
                    _ = NflogDecoder.decode(message: fitted)
                    _ = NflogDecoder.decode(buffer: fitted)
                }
                let (events, malformed) = NflogDecoder.decode(buffer: cut)
                #expect(events.isEmpty)
                #expect(malformed == (n == 0 ? 0 : 1), "prefix of \(n) bytes")
            }
        }
    }

    @Test func bogusAttributeLengths() {
        let body = Array(F.ipv4TCP[20...])
        // Attribute lengths 0...3 (below the header) and past the end, at the first attribute.
        for bogus: UInt16 in [0, 1, 2, 3, UInt16(body.count + 1), 0xFFFF] {
            var m = F.ipv4TCP
            m[20] = UInt8(bogus & 0xFF); m[21] = UInt8(bogus >> 8)
            guard case .failure(let e) = NflogDecoder.decode(message: m) else { Issue.record("length \(bogus)"); return }
            #expect(e.reason == .badAttributeLength)
            #expect(e.offset == 20)
        }
        // Known fixed-size attributes that are too short.
        for type: UInt16 in [1, 2, 3, 4, 5, 8, 11, 12] {
            var b = B()
            b.add(type, [1, 2])
            guard case .failure(let e) = NflogDecoder.decode(message: b.build()) else { Issue.record("type \(type)"); return }
            #expect(e.reason == .badAttributeSize(type: type))
        }
        // A nested conntrack attribute whose inner length runs past it.
        var b = B()
        b.add(18 | 0x8000, B.host16(40) + B.host16(8) + [0, 0, 0, 1])
        guard case .failure(let e) = NflogDecoder.decode(message: b.build()) else { Issue.record("nested"); return }
        #expect(e.reason == .badAttributeLength)
        // nlmsg_len below the headers, and above the bytes given.
        var m = F.ipv4UDP
        m[0] = 12
        #expect((try? NflogDecoder.decode(message: m).get()) == nil)
        m[0] = 0xFF; m[1] = 0xFF
        #expect(NflogDecoder.decode(buffer: m).malformed == 1)
    }

    /// A buffer with one good message, one bad one, one good: two events, one malformed.
    @Test func badMessageInTheMiddleIsSkipped() {
        var bad = F.ipv4UDP
        bad[21] = 0x7F // the first attribute now claims 0x7F08 bytes
        var buffer = F.ipv4TCP
        buffer += bad
        buffer += F.ipv6TCP
        let (events, malformed) = NflogDecoder.decode(buffer: buffer)
        #expect(malformed == 1)
        #expect(events.map(\.sequence) == [0, 3])
    }

    /// Thousands of random buffers and mutated fixtures from a fixed seed: no trap, every one accounted.
    @Test func seededGarbageNeverTraps() {
        var rng = SplitMix64(seed: 0xD20E_3A11)
        var decodedCount = 0, failed = 0
        for i in 0..<20_000 {
            var input: [UInt8]
            if i % 2 == 0 {
                // Pure garbage, sometimes with a plausible header so the attribute walk runs.
                input = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if input.count >= 20, i % 4 == 0 {
                    input[0] = UInt8(input.count & 0xFF); input[1] = UInt8(input.count >> 8); input[2] = 0; input[3] = 0
                    input[4] = 0; input[5] = 4
                }
            } else {
                // A captured message with a few bytes flipped, maybe cut.
                input = NflogFixtures.captured[Int(rng.next() % UInt64(NflogFixtures.captured.count))]
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    input[Int(rng.next() % UInt64(input.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
                if rng.next() % 3 == 0 { input = Array(input.prefix(Int(rng.next() % UInt64(input.count + 1)))) }
            }
            switch NflogDecoder.decode(message: input) {
            case .success: decodedCount += 1
            case .failure: failed += 1
            }
            let (events, malformed) = NflogDecoder.decode(buffer: input)
            #expect(events.count + malformed <= input.count / 16 + 1)
        }
        #expect(decodedCount + failed == 20_000)
        #expect(decodedCount > 0, "mutations that keep the structure still decode")
        #expect(failed > 0)
    }
}

/// A small deterministic generator (SplitMix64), so garbage tests repeat exactly.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
