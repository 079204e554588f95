import NetAddress
@testable import Netfilter
import NetfilterTesting
@testable import StationResolver
import Testing

/// The re-examiner against a scripted conntrack table (no root): which accepted flows lose the
/// generation from their mark after learning, and which keep it.
@Suite struct FlowReexaminerTests {
    let generation: UInt32 = 0xab12_0000
    let telemetry: UInt32 = 0x2, geofence: UInt32 = 0x20

    /// A kernel holding `entries` (destination, mark); it filters dumps by mark as ctnetlink does
    /// and records every mark update.
    final class FakeConntrack: @unchecked Sendable {
        var entries: [(destination: String, mark: UInt32)]
        var updates: [(destination: String, mark: UInt32)] = []
        var dumps: [(value: UInt32, mask: UInt32)] = []
        let transport = RecordingTransport()

        init(_ entries: [(String, UInt32)]) {
            self.entries = entries.map { (destination: $0.0, mark: $0.1) }
            transport.requestHandler = { [unowned self] (m: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage] in
                let b = m.bytes
                if m.rawType == 0x0101 {
                    let (value, mask) = (b.big32(24), b.big32(32))
                    dumps.append((value, mask))
                    return self.entries.filter { $0.mark & mask == value }.map { e in
                        NetlinkMessage(bytes: Ctnetlink.entry(family: e.destination.contains(":") ? Ctnetlink.inet6 : Ctnetlink.inet,
                                                              source: e.destination.contains(":") ? "2001:db8:1::2" : "192.0.2.2",
                                                              destination: e.destination, protocolNumber: 6,
                                                              ports: (40000, 443), mark: e.mark))
                    }
                }
                // A mark update reads like an entry: its own tuple, then the new mark.
                let flow = Ctnetlink.decode(m)
                updates.append((flow?.destination?.description ?? "?", flow?.mark ?? 0xdead))
                return []
            }
        }
    }

    func reexamine(_ kernel: FakeConntrack, _ gains: LearnedGains, following: UInt32? = nil) -> FlowReexaminer {
        let r = FlowReexaminer(conntrack: ConntrackClient(transport: kernel.transport), generation: generation)
        if let following { r.follow(generation: following) }
        r.review(gains)
        r.waitUntilIdle()
        return r
    }

    @Test func flowsAcceptedWithoutTheGainedClassGoBackThroughTheirChain() throws {
        let kernel = FakeConntrack([("203.0.113.7", generation),                  // opened before learning
                                    ("203.0.113.7", generation | telemetry),      // accepted knowing it
                                    ("203.0.113.7", generation | geofence),       // knew another class only
                                    ("203.0.113.8", generation),                  // another destination
                                    ("2001:db8:c::7", generation),                // became a blocked host
                                    ("203.0.113.7", 0x7777_0000)])                // not our generation
        let r = reexamine(kernel, LearnedGains(classes: [try IPNetwork.parse("203.0.113.7"): telemetry],
                                               blockedHosts: [try IPNetwork.parse("2001:db8:c::7")]))
        #expect(kernel.dumps.count == 1 && kernel.dumps[0].value == generation && kernel.dumps[0].mask == 0xffff_0000)
        #expect(kernel.updates.map { "\($0.destination) \(String($0.mark, radix: 16))" }
                == ["203.0.113.7 0", "203.0.113.7 20", "2001:db8:c::7 0"],
                "the generation goes, the classes the flow was accepted with stay")
        #expect(r.reexamined == 3 && r.failures.count == 0)
    }

    @Test func afterAnApplyTheNewGenerationIsMatched() throws {
        let kernel = FakeConntrack([("203.0.113.7", 0x5555_0000)])
        let r = reexamine(kernel, LearnedGains(classes: [try IPNetwork.parse("203.0.113.7"): telemetry]), following: 0x5555_0000)
        #expect(kernel.dumps.map(\.value) == [0x5555_0000])
        #expect(r.reexamined == 1)
    }

    @Test func aFailedPassIsCountedWithItsReason() throws {
        let kernel = FakeConntrack([])
        kernel.transport.requestHandler = { (_: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage] in
            throw NetlinkError(kind: .permissionDenied, errno: 1, operation: "request")
        }
        let r = reexamine(kernel, LearnedGains(classes: [try IPNetwork.parse("203.0.113.7"): telemetry]))
        #expect(r.failures.count == 1)
        #expect(r.failures.last?.description.contains("read conntrack entries") == true)
    }

    @Test func nothingGainedNothingAsked() {
        let kernel = FakeConntrack([("203.0.113.7", generation)])
        _ = reexamine(kernel, LearnedGains())
        #expect(kernel.dumps.isEmpty)
    }
}

/// Pacing of conntrack passes, as pure arithmetic on made-up times (no clock, no waiting).
@Suite struct PassPacingTests {
    let ms: UInt64 = 1_000_000

    @Test func theFirstPassRunsAtOnce() {
        let p = PassPacing(minimumGap: .milliseconds(100))
        #expect(p.delay(now: 5 * ms) == 0)
    }

    @Test func theNextWaitsTheGapAfterTheLastEnded() {
        var p = PassPacing(minimumGap: .milliseconds(100))
        p.passRan(from: 1000 * ms, to: 1001 * ms)
        #expect(p.delay(now: 1001 * ms) == 100 * ms)
        #expect(p.delay(now: 1050 * ms) == 51 * ms)
        #expect(p.delay(now: 1101 * ms) == 0, "after the gap, at once again")
    }

    @Test func aLongPassWaitsNineTimesItsOwnDuration() {
        var p = PassPacing(minimumGap: .milliseconds(100))
        p.passRan(from: 1000 * ms, to: 1050 * ms)  // 50 ms: a big conntrack table
        #expect(p.delay(now: 1050 * ms) == 450 * ms, "so passes take at most a tenth of a core")
    }

    @Test func noGapWhenNoneIsAsked() {
        var p = PassPacing(minimumGap: .zero)
        p.passRan(from: 1000 * ms, to: 1000 * ms)
        #expect(p.delay(now: 1000 * ms) == 0)
    }
}

extension FlowReexaminerTests {
    @Test func gainsQueuedWhileAPassWaitsGoIntoOnePass() throws {
        let kernel = FakeConntrack([("203.0.113.7", generation), ("203.0.113.8", generation)])
        let r = FlowReexaminer(conntrack: ConntrackClient(transport: kernel.transport), generation: generation,
                               minimumGap: .seconds(3600))
        r.review(LearnedGains(classes: [try IPNetwork.parse("203.0.113.7"): telemetry]))
        #expect(r.reexamined == 1, "the first pass runs at once")  // (reading it waits for the queue)
        // The next two must wait an hour: nothing more is asked of the kernel meanwhile.
        r.review(LearnedGains(classes: [try IPNetwork.parse("203.0.113.8"): telemetry]))
        r.review(LearnedGains(blockedHosts: [try IPNetwork.parse("203.0.113.8")]))
        #expect(r.reexamined == 1)
        #expect(kernel.dumps.count == 1)
    }
}
