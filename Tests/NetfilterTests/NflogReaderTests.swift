import Testing
@testable import Netfilter
import NetfilterTesting
#if canImport(Glibc)
import Glibc
#endif

/// The reader against a scripted socket: the config it sends, how it answers the kernel's refusals, and
/// how it counts loss. No root.
@Suite struct NflogReaderTests {
    typealias B = NflogMessageBuilder

    /// Answers each config message with an ack, then serves its script (NetfilterTesting).
    typealias FakeSocket = FakeNflogSocket

    func event(sequence: UInt32, port: UInt16 = 9) -> [UInt8] {
        var b = B()
        b.add(10, Array("dw drone=a cat=maps\0".utf8))
        b.add32(12, sequence)
        b.add(9, [0x45, 0, 0, 29, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 77]
                + B.big16(40000) + B.big16(port) + [0, 9, 0, 0, 0x78])
        let m = b.build()
        return m + [UInt8](repeating: 0, count: (4 - m.count % 4) % 4)
    }

    func reader(_ socket: FakeSocket, group: UInt16 = 7) throws -> NflogReader {
        try NflogReader(group: group, socket: socket, receiveBufferBytes: 4 << 20, tuning: NflogTuning())
    }

    /// Attributes of a config message: type -> value.
    func attributes(_ m: [UInt8]) -> [UInt16: [UInt8]] {
        var out: [UInt16: [UInt8]] = [:]
        var o = 20
        while o + 4 <= m.count {
            let len = Int(m[o]) | Int(m[o + 1]) << 8, type = UInt16(m[o + 2]) | UInt16(m[o + 3]) << 8
            out[type] = Array(m[(o + 4)..<(o + len)])
            o += (len + 3) & ~3
        }
        return out
    }

    // MARK: setup

    @Test func unbindsThenBindsAndConfiguresInOneMessage() throws {
        let s = FakeSocket()
        let r = try reader(s, group: 0x1234)
        #expect(r.conntrackEnabled)
        #expect(s.sent.count == 2)
        for m in s.sent {
            #expect(Int(m[0]) | Int(m[1]) << 8 == m.count, "nlmsg_len")
            #expect(Array(m[4..<8]) == [0x01, 0x04, 0x05, 0x00], "NFULNL_MSG_CONFIG, NLM_F_REQUEST|NLM_F_ACK")
            #expect(Array(m[16..<20]) == [0, 0, 0x12, 0x34], "AF_UNSPEC, v0, group big-endian")
        }
        #expect(attributes(s.sent[0]) == [1: [2]], "NFULNL_CFG_CMD_UNBIND only")
        let a = attributes(s.sent[1])
        #expect(a[1] == [1], "NFULNL_CFG_CMD_BIND")
        #expect(a[2] == [0, 0, 0, 128, 2, 0], "copy range 128, NFULNL_COPY_PACKET")
        #expect(a[3] == [0, 2, 0, 0], "kernel batch buffer 128 KiB")
        #expect(a[4] == [0, 0, 0, 5], "flush after 50 ms")
        #expect(a[5] == [0, 0, 0, 64], "queue threshold")
        #expect(a[6] == [0, 5], "NFULNL_CFG_F_SEQ | NFULNL_CFG_F_CONNTRACK, big-endian")
        #expect(a[3 + 100] == nil)
        #expect(s.receiveBufferRequests == [4 << 20])
        #expect(r.stats.receiveBufferBytes == 8 << 20)
    }

    @Test func fallsBackWithoutConntrackWhenRefused() throws {
        let s = FakeSocket()
        s.ackErrnos = [ENODEV, EOPNOTSUPP, 0] // nothing to unbind; no ctnetlink glue; then fine
        let r = try reader(s)
        #expect(!r.conntrackEnabled)
        #expect(s.sent.count == 3)
        #expect(attributes(s.sent[2])[6] == [0, 1], "NFULNL_CFG_F_SEQ alone")
        #expect(attributes(s.sent[2])[1] == [1], "still binds in the same message")
    }

    @Test func asksAgainAfterTheKernelLoadedConntrack() throws {
        let s = FakeSocket()
        s.ackErrnos = [0, EAGAIN, 0]
        let r = try reader(s)
        #expect(r.conntrackEnabled)
        #expect(attributes(s.sent[2])[6] == [0, 5])
    }

    @Test func groupOwnedByAnotherProcess() throws {
        let s = FakeSocket()
        s.ackErrnos = [EPERM]
        s.owner = 4242
        let e = try #require(throws: NetlinkError.self) { try reader(s) }
        #expect(e.errno == EBUSY)
        #expect(e.kind == .rejected)
        #expect(e.description.contains("4242"), "\(e)")
    }

    @Test func withoutCapabilityIsPermissionDenied() throws {
        let s = FakeSocket()
        s.ackErrnos = [EPERM]
        let e = try #require(throws: NetlinkError.self) { try reader(s) }
        #expect(e.kind == .permissionDenied)
    }

    @Test func otherBindFailureIsReported() throws {
        let s = FakeSocket()
        s.ackErrnos = [0, EINVAL, EINVAL]
        let e = try #require(throws: NetlinkError.self) { try reader(s) }
        #expect(e.errno == EINVAL)
        #expect(e.operation == "bind NFLOG group 7")
    }

    // MARK: reading and loss

    @Test func sequenceGapsAndENOBUFSAreCounted() throws {
        let s = FakeSocket()
        let r = try reader(s)
        s.script = [.data(event(sequence: 0) + event(sequence: 1) + event(sequence: 2)),
                    .overrun,
                    .data(event(sequence: 7) + event(sequence: 8))]
        let events = try r.read(timeoutMilliseconds: 10)
        #expect(events.compactMap(\.sequence) == [0, 1, 2, 7, 8])
        #expect(events.first?.packet?.destinationPort == 9)
        #expect(r.stats.events == 5)
        #expect(r.stats.sequenceGaps == 4, "3, 4, 5, 6 went with the overrun")
        #expect(r.stats.enobufs == 1)
        #expect(s.receiveBufferRequests == [4 << 20, 8 << 20], "doubled once")
        #expect(try r.read(timeoutMilliseconds: 10) == [])
    }

    @Test func aGapAfterAnOverrunCarriesTheOverrunsTime() throws {
        let s = FakeSocket()
        let r = try reader(s)
        func now() -> Int64 {
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
        }
        let before = now()
        s.script = [.data(event(sequence: 0)), .overrun]  // the flood ends with an overrun
        _ = try r.read(timeoutMilliseconds: 10)
        let after = now()
        #expect(r.stats.sequenceGaps == 0, "not seen yet")
        usleep(20_000)
        s.script = [.data(event(sequence: 5))]            // the next event, much later
        _ = try r.read(timeoutMilliseconds: 10)
        #expect(r.stats.sequenceGaps == 4)
        let at = try #require(r.stats.gapOverrunMicros)
        #expect(at >= before && at <= after, "the overrun's time, not the time the gap was seen")
        s.script = [.data(event(sequence: 9))]            // a later gap without an overrun
        _ = try r.read(timeoutMilliseconds: 10)
        #expect(r.stats.gapOverrunMicros == nil)
    }

    @Test func eventsLostBeforeTheFirstOneAreCounted() throws {
        let s = FakeSocket()
        let r = try reader(s)
        s.script = [.data(event(sequence: 3))]
        _ = try r.read(timeoutMilliseconds: 0)
        #expect(r.stats.sequenceGaps == 3, "the instance we bound numbers from 0")
    }

    @Test func sequenceWrapIsNotALoss() throws {
        let s = FakeSocket()
        let r = try reader(s)
        s.script = [.data(event(sequence: 0xFFFF_FFFE) + event(sequence: 0xFFFF_FFFF) + event(sequence: 0)
                          + event(sequence: 2))]
        _ = try r.read(timeoutMilliseconds: 0)
        #expect(r.stats.sequenceGaps == 1, "only 1 is missing; a huge first jump is not believed")
    }

    @Test func receiveBufferGrowthStopsAtTheCap() throws {
        let s = FakeSocket()
        let r = try reader(s)
        s.script = Array(repeating: .overrun, count: 10)
        _ = try r.read(timeoutMilliseconds: 0)
        #expect(r.stats.enobufs == 10)
        #expect(s.receiveBufferRequests == [4 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20])
    }

    @Test func packetsThatArriveBeforeTheAckAreKept() throws {
        let s = FakeSocket()
        s.script = [] // the fake serves acks first; put an event in front of the bind ack instead
        final class Early: NflogSocket {
            let inner: FakeSocket
            var early: [UInt8]?
            init(_ inner: FakeSocket, early: [UInt8]) { self.inner = inner; self.early = early }
            var fileDescriptor: Int32 { -1 }
            func send(_ bytes: [UInt8]) throws(NetlinkError) { try inner.send(bytes) }
            func receive(timeoutMilliseconds: Int) throws(NetlinkError) -> NetlinkReceive {
                if inner.sent.count == 2, let e = early { early = nil; return .data(e) }
                return try inner.receive(timeoutMilliseconds: timeoutMilliseconds)
            }
            func receiveBufferBytes() -> Int { inner.receiveBufferBytes() }
            func setReceiveBuffer(_ bytes: Int) { inner.setReceiveBuffer(bytes) }
            func groupOwner(_ group: UInt16) -> UInt32? { nil }
        }
        let r = try NflogReader(group: 7, socket: Early(s, early: event(sequence: 0)), receiveBufferBytes: 1 << 20,
                                tuning: NflogTuning())
        #expect(try r.read(timeoutMilliseconds: 0).compactMap(\.sequence) == [0])
    }

    @Test func malformedMessagesAreCountedAndSkipped() throws {
        let s = FakeSocket()
        let r = try reader(s)
        var bad = event(sequence: 1)
        bad[20] = 2 // first attribute shorter than its header
        s.script = [.data(event(sequence: 0) + bad + event(sequence: 2)), .data([1, 2, 3])]
        let events = try r.read(timeoutMilliseconds: 0)
        #expect(events.compactMap(\.sequence) == [0, 2])
        #expect(r.stats.malformed == 2)
        #expect(r.stats.sequenceGaps == 1, "the malformed one counts as lost too: its content is gone")
    }
}
