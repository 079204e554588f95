import Testing
@testable import Netfilter
#if canImport(Glibc)
import Glibc
#endif

/// The shared netlink codec: one splitter, one ack parser, one attribute walk. No root.
@Suite struct NetlinkCodecTests {
    /// A message of `type` with `body` after the 16-byte header, unpadded.
    func message(type: UInt16, flags: UInt16 = 0, sequence: UInt32 = 0, _ body: [UInt8] = []) -> [UInt8] {
        var b: [UInt8] = []
        b.appendHost32(UInt32(16 + body.count))
        b.appendHost16(type)
        b.appendHost16(flags)
        b.appendHost32(sequence)
        b.appendHost32(0)
        return b + body
    }

    func padded(_ m: [UInt8]) -> [UInt8] { m + [UInt8](repeating: 0, count: (4 - m.count % 4) % 4) }

    @Test func splitsPaddedMessages() throws {
        let a = message(type: 0x0a00, sequence: 1, [1, 2, 3]), b = message(type: Netlink.done, sequence: 2)
        let split = try NetlinkMessage.split(padded(a) + b)
        #expect(split.map(\.bytes) == [a, b])
        #expect(split.map(\.kind) == [.newTable, .done])
    }

    @Test func aTruncatedMessageOrTailIsAProtocolViolation() {
        let a = padded(message(type: 0x0a00, [1, 2, 3]))
        for bad in [a + [1, 2, 3], Array(a.dropLast(4)), [8, 0, 0, 0] + Array(a.dropFirst(4))] {
            #expect(throws: NetlinkError.self) { try NetlinkMessage.split(bad) }
            #expect(NetlinkMessage.ranges(in: bad).malformedAt != nil)
        }
        let (messages, malformedAt) = NetlinkMessage.ranges(in: a + [1, 2, 3])
        #expect(messages == [0..<19] && malformedAt == 20, "the message, then the tail that is no header")
    }

    @Test func cappedAckWithExtendedAckAttributes() throws {
        let request = message(type: 0x0a06, flags: 0x405, sequence: 77)
        var body: [UInt8] = []
        body.appendHost32(UInt32(bitPattern: -ENOENT))
        body += request
        body.appendAttribute(Netlink.errorMessage, Array("chain not found\0".utf8))
        body.appendAttribute(Netlink.errorOffset, [36, 0, 0, 0])
        let m = NetlinkMessage(bytes: message(type: Netlink.error, flags: Netlink.capped | Netlink.ackTLVs, body))
        let ack = try NetlinkAck(errorMessage: m)
        #expect(ack == NetlinkAck(sequence: 77, errno: ENOENT, extendedMessage: "chain not found", errorOffset: 36))
    }

    @Test func uncappedAckSkipsTheEchoedRequest() throws {
        let request = padded(message(type: 0x0a06, flags: 0x405, sequence: 9, [1, 2, 3, 4, 5]))
        var body: [UInt8] = []
        body.appendHost32(UInt32(bitPattern: -EEXIST))
        body += request
        body.appendAttribute(Netlink.errorMessage, Array("exists\0".utf8))
        let ack = try NetlinkAck(errorMessage: NetlinkMessage(bytes: message(type: Netlink.error, flags: Netlink.ackTLVs, body)))
        #expect(ack == NetlinkAck(sequence: 9, errno: EEXIST, extendedMessage: "exists"))
        #expect(throws: NetlinkError.self) { try NetlinkAck(errorMessage: NetlinkMessage(bytes: request)) }
    }

    @Test func attributeWalkStopsAtABadLength() {
        var b: [UInt8] = []
        b.appendAttribute(1 | 0x8000, [1, 2, 3, 4, 5])
        b.appendAttribute(2, [])
        var good = NetlinkAttributes(b, from: 0, to: b.count)
        #expect(Array(good).map(\.type) == [1, 2], "types without NLA_F_NESTED")
        #expect(good.next()?.value == 4..<9)
        b += [9, 0, 3, 0] // claims 9 bytes, has 4
        var bad = NetlinkAttributes(b, from: 0, to: b.count)
        while bad.next() != nil {}
        #expect(bad.malformedAt == 16)
    }
}
