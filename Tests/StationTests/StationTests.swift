import DronewallConfig
import DronewallPolicy
import FlowLog
import Foundation
import NetAddress
import Netfilter
import NetfilterTesting
import NftModel
import Station
import StationResolver
import Testing
import KernelLayout

/// The daemon's runtime decisions, without root: a scripted kernel table, a fake NFLOG socket,
/// a flow log in a temporary directory and a clock the test moves.
@Suite struct StationTests {
    static let catalogue = """
        [vendor acme]
        name = Acme
        jurisdiction = US
        source = s
        [endpoint 203.0.113.0/24]
        categories = maps
        source = s
        [endpoint api.acme.example]
        categories = telemetry
        source = s
        """
    static let config = "[station]\ndns-resolver = off\n[drone a]\naddress = 192.0.2.10\npolicy = local-data\n"

    static func snapshot(_ config: String = StationTests.config) throws -> PolicySnapshot {
        let reader = MemoryReader(["/etc/dw/dronewall.conf": config, "/usr/share/dw/vendors/acme.rules": catalogue])
        let outcome = PolicyLoader(configPath: "/etc/dw/dronewall.conf", catalogueDirectories: ["/usr/share/dw/vendors"],
                                   reader: reader, resolveUser: { _ in nil }).load()
        return try #require(outcome.snapshot, "\(outcome.diagnostics.rendered)")
    }

    /// A station over fakes; `body` gets it with its pieces, and the flow log is removed after.
    func withStation(lastReading: (FlowStore) throws -> FlowStore.CounterReading? = { try $0.lastCounterReading() },
                     prepare: (Rig) throws -> Void = { _ in },
                     held: String? = nil,
                     _ body: (Station, Rig) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("station-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rig = Rig(store: try FlowStore(path: dir + "/flows.db"), snapshot: try Self.snapshot())
        try prepare(rig)
        let parts = Station.Parts(
            kernel: rig.kernel, nflog: try NflogReader.fake(socket: rig.socket), writer: rig.writer,
            databasePath: dir + "/flows.db", lastCounterReading: try lastReading(rig.store),
            startResolver: { _ in rig.resolver },
            counterIdentity: { "test table \($0.map(String.init) ?? "?")" },
            clock: { rig.clock.now }, log: { _, line in rig.logLines.append(line) })
        var withHeld = parts
        withHeld.heldAddressesPath = held
        withHeld.foreignChanges = {
            defer { (rig.foreign, rig.lostNotifications) = ([], false) }
            return (rig.foreign, rig.lostNotifications)
        }
        try body(Station(snapshot: rig.snapshot, parts: withHeld), rig)
    }

    // MARK: counters

    @Test func startStoresWhatTheOldTableCountedThenApplies() throws {
        try withStation(prepare: { rig in
            // The last run stored 4 packets for this table instance; the kernel has counted 10.
            try rig.store.recordKernelCounts([], reading: .init(identity: "test table 7", values: [
                .init(drone: "a", category: "maps", verdict: .blocked, packets: 4, bytes: 400),
            ]))
            rig.kernel.table = FakeKernel.table(handle: 7, policy: "old", packets: 10)
        }) { station, rig in
            try station.start()
            #expect(rig.kernel.calls == ["status", "apply"], "counters are read before the table is replaced")
            #expect(rig.kernel.applied.last?.policyText == rig.snapshot.ruleset.policyText)
            _ = station.stop(drainNFLOG: false)
            #expect(try rig.kernelPackets() == 6, "only what was counted while no daemon ran")
        }
    }

    @Test func countersAfterAResetAndOnANewTableInstance() throws {
        try withStation { station, rig in
            rig.kernel.table = FakeKernel.table(handle: 7, policy: rig.snapshot.ruleset.policyText, packets: 10)
            try station.start()
            rig.kernel.table = FakeKernel.table(handle: 7, policy: rig.snapshot.ruleset.policyText, packets: 3)
            rig.clock.now += 6_000_000
            try station.tick()                         // `nft reset counters`: lower than before
            rig.kernel.table = FakeKernel.table(handle: 8, policy: rig.snapshot.ruleset.policyText, packets: 5)
            rig.clock.now += 6_000_000
            try station.tick()                         // a new table instance counts from zero
            _ = station.stop(drainNFLOG: false)
            #expect(try rig.kernelPackets() == 10 + 3 + 5)
            #expect(try rig.store.lastCounterReading()?.identity == "test table 8")
        }
    }

    // MARK: flow records and loss

    @Test func aLoggedPacketBecomesAFlowRecordWithVendorAndHost() throws {
        let resolver = FakeResolver(names: ["203.0.113.7": "tiles.acme.example"])
        try withStation(prepare: { $0.resolver = resolver }) { station, rig in
            try station.start()
            let sent = rig.clock.now - 500_000
            var p = NflogPacket(prefix: LogPrefix(drone: "a", reason: .category(.maps)).text, sequence: 0,
                                timestampMicros: sent)
            p.destination = [203, 0, 113, 7]
            p.destinationPort = 443
            rig.socket.deliver([p])
            rig.clock.now += 2_000_000
            try station.tick()
            #expect(station.stop(drainNFLOG: false).isEmpty)
            let rows = try rig.store.report(ReportQuery(), nowMicros: rig.clock.now).rows
            let row = try #require(rows.first)
            #expect(rows.count == 1)
            #expect(row.drone == "a" && row.category == "maps" && row.verdict == .blocked)
            #expect(row.vendor == "acme", "the catalogue network names the vendor")
            #expect(row.host == "tiles.acme.example", "the resolver names the host")
            #expect(row.destination == "203.0.113.7" && row.port == 443 && row.source == "192.0.2.10")
            #expect(row.firstSeen == sent, "the kernel's time of the packet, not when it was read")
        }
    }

    @Test func aGapAfterAnOverrunIsRecordedAtTheOverrunsTime() throws {
        try withStation { station, rig in
            try station.start()
            let before = systemMicros()
            rig.socket.deliver([NflogPacket(prefix: LogPrefix(drone: "a", reason: .category(.maps)).text, sequence: 0)])
            rig.socket.overrun()
            try station.tick()
            let after = systemMicros()
            usleep(20_000)
            rig.socket.deliver([NflogPacket(prefix: LogPrefix(drone: "a", reason: .category(.maps)).text, sequence: 5)])
            rig.clock.now += 2_000_000  // the gap is seen, and flushed, much later
            try station.tick()
            _ = station.stop(drainNFLOG: false)
            var atOverrun = ReportQuery()
            (atOverrun.sinceMicros, atOverrun.untilMicros) = (before, after)
            #expect(try rig.store.report(atOverrun, nowMicros: after).lostEvents == 4, "1, 2, 3, 4 went with the overrun")
            #expect(try rig.store.lossSince(0).overruns == 1)
        }
    }

    // MARK: applying while running, and guarding the table

    @Test func anApplySendsOnlyTheDifferenceAndTheResolverDecidesWithIt() throws {
        let fresh = try Self.snapshot(Self.config + "block-host = 198.51.100.0/24\n")
        let resolver = FakeResolver()
        try withStation(prepare: { $0.resolver = resolver }) { station, rig in
            try station.start()
            #expect(fresh.generation != rig.snapshot.generation)
            #expect(try station.apply(fresh) == .changed(objects: try #require(rig.kernel.changes.last).size))
            #expect(rig.kernel.calls.suffix(2) == ["counters", "change"], "what the flushed chains counted is stored first")
            #expect(!rig.kernel.calls.dropFirst(2).contains("status"), "not the whole table's counters")
            let diff = try #require(rig.kernel.changes.last)
            // Drone a's chain, the chains holding the generation, the policy chain; a's block sets.
            #expect(diff.flushedChains.contains(KernelLayout.droneChain("a")))
            #expect(diff.deletedChains == [KernelLayout.policyChain])
            #expect(diff.addedSets.map(\.name) == [KernelLayout.hostSet("a", .block, ipv6: false, learned: false)])
            #expect(rig.kernel.applied.last?.policyText == fresh.ruleset.policyText)
            #expect(rig.kernel.table?.handle == 1, "the table stays: the same instance, its learned addresses untouched")
            #expect(station.snapshot.generation == fresh.generation)
            #expect(resolver.reloads == [fresh.generation])

            // The same policy again: nothing to send.
            #expect(try station.apply(fresh) == .changed(objects: 0))
            #expect(rig.kernel.changes.count == 1 && rig.kernel.calls.last == "change")
            _ = station.stop(drainNFLOG: false)
        }
    }

    @Test func aTableTouchedOrReplacedByAnotherProgramIsReplacedNotChanged() throws {
        let one = try Self.snapshot(Self.config + "block-host = 198.51.100.0/24\n")
        let two = try Self.snapshot(Self.config + "block-host = 198.51.100.0/25\n")
        try withStation { station, rig in
            try station.start()
            // A hand edit the kernel could not refuse (no owner flag before Linux 6.9): what the
            // table holds is no longer known, so the next apply replaces it whole.
            rig.foreign = [ForeignChange(pid: 9, process: "nft", changes: ["new rule inet dronewall in chain forward"],
                                         touchesOwnTable: true)]
            #expect(try station.apply(one) == .replaced(carried: 0))
            #expect(rig.kernel.calls.last == "apply")
            // Replaced behind the daemon's back with a table that names the same policy: another handle.
            rig.kernel.table = FakeKernel.table(handle: 42, policy: one.ruleset.policyText, packets: 0)
            #expect(try station.apply(two) == .replaced(carried: 0))
            #expect(rig.kernel.changes.isEmpty)
            _ = station.stop(drainNFLOG: false)
        }
    }

    @Test func lostNotificationsOfAnOwnedTableStillAllowAChange() throws {
        let fresh = try Self.snapshot(Self.config + "block-host = 198.51.100.0/24\n")
        let other = try Self.snapshot(Self.config + "block-host = 198.51.100.0/25\n")
        try withStation { station, rig in
            try station.start()
            // Our own 100k-element batch overflows the notification socket; no one else can write
            // an owned table, so the daemon still knows what it holds.
            rig.lostNotifications = true
            #expect(try station.apply(fresh) == .changed(objects: try #require(rig.kernel.changes.last).size))
            rig.kernel.owns = false  // a kernel that cannot keep it owned: a loss may hide a hand edit
            rig.lostNotifications = true
            #expect(try station.apply(other) == .replaced(carried: 0))
            _ = station.stop(drainNFLOG: false)
        }
    }

    @Test func aChangeTheKernelRefusesFallsBackToAReplace() throws {
        let fresh = try Self.snapshot(Self.config + "block-host = 198.51.100.0/24\n")
        try withStation { station, rig in
            try station.start()
            rig.kernel.refusals = [NetlinkError(kind: .rejected, errno: EBUSY, operation: "apply changes")]
            #expect(try station.apply(fresh) == .replaced(carried: 0))
            #expect(rig.kernel.calls.suffix(3) == ["change", "status", "apply"], "counters stored before the replace")
            #expect(rig.logLines.contains { $0.contains("was refused") && $0.contains("replacing the table") })
            #expect(station.snapshot.generation == fresh.generation)
            _ = station.stop(drainNFLOG: false)
        }
    }

    @Test func countersOfReplacedRulesAreNotLostInAChange() throws {
        let fresh = try Self.snapshot(Self.config + "block-host = 198.51.100.0/24\n")
        try withStation { station, rig in
            try station.start()
            rig.kernel.count(10)
            try station.apply(fresh)          // stores the 10, then drone a's rules start again from 0
            rig.kernel.count(15)              // more than before: not a reset, all of it new
            rig.clock.now += 6_000_000
            try station.tick()
            _ = station.stop(drainNFLOG: false)
            #expect(try rig.kernelPackets() == 10 + 15)
        }
    }

    @Test func aRefusedApplyLeavesEverythingAsItWas() throws {
        let fresh = try Self.snapshot(Self.config + "block-host = 198.51.100.0/24\n")
        let resolver = FakeResolver()
        try withStation(prepare: { $0.resolver = resolver }) { station, rig in
            try station.start()
            // Refused as a change, then as a replace (the policy itself is what the kernel refuses).
            rig.kernel.refusals = [NetlinkError(kind: .rejected, errno: EINVAL, operation: "apply changes"),
                                   NetlinkError(kind: .rejected, errno: EINVAL, operation: "apply")]
            #expect(throws: StationError.self) { try station.apply(fresh) }
            #expect(station.snapshot.generation == rig.snapshot.generation)
            #expect(resolver.reloads.isEmpty)
            _ = station.stop(drainNFLOG: false)
        }
    }

    @Test func aTableDeletedOrReplacedBehindTheDaemonIsPutBack() throws {
        try withStation { station, rig in
            try station.start()
            let ours = rig.snapshot.ruleset.policyText
            rig.kernel.table = nil  // another program deleted it (a kernel that cannot keep it owned)
            rig.clock.now += 6_000_000
            try station.tick()
            #expect(rig.kernel.applied.count == 2 && rig.kernel.applied.last?.policyText == ours)
            #expect(rig.logLines.contains { $0.contains("is gone (deleted by another program); applying it again") })

            rig.kernel.table = FakeKernel.table(handle: 9, policy: "dronewall generation 0x1; catalogue other", packets: 0)
            rig.clock.now += 6_000_000
            try station.tick()
            #expect(rig.kernel.applied.count == 3)
            #expect(rig.logLines.contains { $0.contains("was replaced by another program") })

            rig.clock.now += 6_000_000
            try station.tick()
            #expect(rig.kernel.applied.count == 3, "its own table is left alone")
            _ = station.stop(drainNFLOG: false)
        }
    }

    @Test func anotherProgramsChangeIsLoggedWithItsProcessAndTheTablePutBackAtOnce() throws {
        try withStation { station, rig in
            try station.start()
            rig.kernel.table = nil
            rig.foreign = [ForeignChange(pid: 42, process: "nft", changes: ["delete table inet dronewall"], touchesOwnTable: true)]
            try station.tick()  // no time has passed: not the counter reading
            #expect(rig.logLines.contains("foreign change by nft (pid 42): delete table inet dronewall"))
            #expect(rig.kernel.applied.count == 2, "applied again at once")
            #expect(station.foreignChangeCount == 1)
            rig.foreign = [ForeignChange(pid: 7, process: "docker", changes: ["new base chain ip nat pre at hook prerouting"],
                                         touchesOwnTable: false)]
            try station.tick()
            #expect(rig.kernel.applied.count == 2, "another table's base chain is logged, ours stays")
            #expect(station.lastForeignChange?.hasSuffix("docker (pid 7): new base chain ip nat pre at hook prerouting") == true)
            // A rule added to our table by hand keeps our comment: ours goes back all the same.
            rig.foreign = [ForeignChange(pid: 9, process: "nft", changes: ["new rule inet dronewall in chain forward"],
                                         touchesOwnTable: true)]
            try station.tick()
            #expect(rig.kernel.applied.count == 3, "a hand edit is undone at once")
            #expect(rig.logLines.contains { $0.contains("was changed by another program; applying this daemon's policy again") })
            _ = station.stop(drainNFLOG: false)
        }
    }

    @Test func afterAFlushTheTableIsNoLongerPutBack() throws {
        try withStation { station, rig in
            try station.start()
            #expect(try station.flush())
            rig.clock.now += 6_000_000
            try station.tick()
            #expect(rig.kernel.applied.count == 1)
            _ = station.stop(drainNFLOG: false)
        }
    }

    @Test func startNeverReusesTheRunningGenerationForAnotherPolicy() throws {
        try withStation(prepare: { rig in
            let collision = PolicyComment(generation: rig.snapshot.generation, policy: rig.snapshot.fingerprint &+ 1,
                                         catalogue: nil).text
            rig.kernel.table = FakeKernel.table(handle: 1, policy: collision, packets: 0)
        }) { station, rig in
            try station.start()
            let applied = try #require(rig.kernel.applied.last?.policyText.flatMap(PolicyComment.init(parsing:)))
            #expect(applied.generation != rig.snapshot.generation)
            #expect(applied.policy == rig.snapshot.fingerprint)
            _ = station.stop(drainNFLOG: false)
        }
    }

    // MARK: held addresses

    @Test func heldAddressesOutliveAReboot() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("held-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let geofence: [UInt8] = [UInt8(Category.geofence.bit), 0, 0, 0]
        try withStation(held: path) { station, rig in
            try station.start()
            // The resolver learned two addresses; one with a day left, one about to go.
            rig.kernel.sets["learned_v4"] = [
                KernelElement(key: [203, 0, 113, 7], data: geofence, expiresMilliseconds: 86_400_000, comment: "flysafe-api.dji.com"),
                KernelElement(key: [203, 0, 113, 8], data: geofence, expiresMilliseconds: 500, comment: "short.dji.com"),
            ]
            _ = station.stop(drainNFLOG: false)
        }
        // A reboot: an empty kernel, an hour later.
        try withStation(held: path) { station, rig in
            rig.clock.now += 3_600_000_000
            try station.start()
            let restored = rig.kernel.sets["learned_v4"] ?? []
            #expect(restored.map(\.key) == [[203, 0, 113, 7]], "the expired one stays gone")
            #expect(restored.first?.comment == "flysafe-api.dji.com" && restored.first?.data == geofence)
            let left = try #require(restored.first?.timeoutMilliseconds)
            #expect(left > 82_700_000 && left <= 82_800_000, "the day minus the hour it was down: \(left)")
            #expect(rig.logLines.contains { $0.hasPrefix("restored 1 held address(es)") })
            _ = station.stop(drainNFLOG: false)
        }
    }

    // MARK: shutdown

    @Test func stopDrainsNFLOGThenTheResolverThenWritesEverything() throws {
        let resolver = FakeResolver()
        try withStation(prepare: { $0.resolver = resolver }) { station, rig in
            try station.start()
            let calls = rig.kernel.calls.count
            // Arrived after the last turn: the drain must still fold it.
            rig.socket.deliver([NflogPacket(prefix: LogPrefix(drone: "a", reason: .category(.maps)).text, sequence: 0)])
            resolver.pending = [BlockedEvent(timeMicros: rig.clock.now, drone: "a", reason: .category(.telemetry), verdict: .blocked,
                                             vendor: "acme", proto: .udp, source: "192.0.2.10", destination: "api.acme.example",
                                             port: 53, sourcePort: 5353, host: "api.acme.example", length: 60)]
            #expect(station.stop().isEmpty)
            #expect(resolver.stopped)
            #expect(rig.kernel.calls.count == calls + 1 && rig.kernel.calls.last == "status", "counters read at the end")
            let rows = try rig.store.report(ReportQuery(), nowMicros: rig.clock.now + 1).rows
            #expect(Set(rows.map(\.category)) == ["maps", "telemetry"], "the drained packet and the resolver's last record")
            let summary = try #require(rig.logLines.firstIndex(of: "resolver: stopped"))
            // The resolver stops after the drain, before the final write, which logs the two new flows.
            #expect(Set(rig.logLines[(summary + 1)...].map { $0.prefix(25) }) == ["blocked: drone a, acme ma", "blocked: drone a, acme te"])
            #expect(rig.logLines.count == summary + 3)
        }
    }
}

// MARK: fakes

/// The pieces a test station is built from, and what it recorded.
final class Rig: @unchecked Sendable {
    let store: FlowStore
    let writer: FlowWriter
    let snapshot: PolicySnapshot
    let kernel = FakeKernel()
    let socket = FakeNflogSocket()
    let clock = TestClock()
    var resolver: StationResolving?
    var logLines: [String] = []
    /// What the change notifications bring at the next turn.
    var foreign: [ForeignChange] = []
    /// Whether notifications were lost before the next turn.
    var lostNotifications = false

    init(store: FlowStore, snapshot: PolicySnapshot) {
        self.store = store
        self.snapshot = snapshot
        writer = FlowWriter(store: store, log: { _ in })
    }

    /// Blocked packets the kernel counted, as the flow log stored them.
    func kernelPackets() throws -> Int64 {
        try store.report(ReportQuery(), nowMicros: clock.now + 1, withRows: false).kernelBlockedPackets
    }
}

/// Starts at the real time (the NFLOG reader dates overruns by the real clock) and moves only
/// when the test moves it.
final class TestClock: @unchecked Sendable {
    var now: Int64 = systemMicros()
}

/// The table as a scripted kernel holds it.
final class FakeKernel: StationKernel {
    var table: TableStatus?
    private(set) var applied: [Ruleset] = []
    private(set) var calls: [String] = []

    /// The next applies and changes fail with these, one each.
    var refusals: [NetlinkError] = []

    func apply(_ ruleset: Ruleset) throws(NetlinkError) -> Int {
        calls.append("apply")
        if !refusals.isEmpty { throw refusals.removeFirst() }
        applied.append(ruleset)
        table = FakeKernel.table(handle: UInt64(applied.count), policy: ruleset.policyText, packets: 0)
        return 0
    }

    func flush() throws(NetlinkError) -> Bool {
        calls.append("flush")
        defer { table = nil }
        return table != nil
    }

    /// Whether the table is the station's socket's own (Linux 6.9 and later).
    var owns = true
    var ownsTable: Bool { owns }
    var ownershipRefused: NetlinkError? { nil }

    func tableStatus() throws(NetlinkError) -> TableStatus? {
        calls.append("status")
        return table
    }

    /// Set elements by set name (the class maps the station keeps over a restart).
    var sets: [String: [KernelElement]] = [:]

    func elements(set: String) throws(NetlinkError) -> [KernelElement]? { sets[set] ?? [] }

    func change(_ changes: [ElementChange], operation: String) throws(NetlinkError) {
        for c in changes {
            for e in c.elements {
                guard case let .network(n) = e.key else { continue }
                let data = e.data.flatMap { v -> [UInt8]? in if case let .mark(m) = v { withUnsafeBytes(of: m) { Array($0) } } else { nil } }
                sets[c.set.name, default: []].append(KernelElement(key: n.bytes, data: data, timeoutMilliseconds: e.timeoutMilliseconds,
                                                                   expiresMilliseconds: e.timeoutMilliseconds, comment: e.comment))
            }
        }
    }

    /// A table naming `policy` as applied, with drone a's maps logging rule at `packets`.
    static func table(handle: UInt64, policy: String?, packets: UInt64) -> TableStatus {
        TableStatus(family: .inet, name: KernelLayout.tableName, handle: handle, chains: [
            ChainStatus(name: KernelLayout.policyChain, rules: [], comment: policy),
            ChainStatus(name: KernelLayout.droneChain("a"), hook: nil, rules: [
                RuleStatus(handle: 1, packets: packets, bytes: packets * 100,
                           logPrefix: LogPrefix(drone: "a", reason: .category(.maps)).text),
            ]),
        ], sets: [])
    }

    /// The changes sent without replacing the table.
    private(set) var changes: [RulesetDiff] = []

    func applyChanges(_ diff: RulesetDiff, to ruleset: Ruleset, expecting expected: TableInstance) throws(NetlinkError) -> Bool {
        calls.append("change")
        if !refusals.isEmpty { throw refusals.removeFirst() }
        guard try instance() == expected, var t = table else { return false }
        changes.append(diff)
        applied.append(ruleset)
        if let i = t.chains.firstIndex(where: { $0.name == KernelLayout.policyChain }) { t.chains[i].comment = ruleset.policyText }
        // The rules of flushed chains are new: their counters start from zero.
        for i in t.chains.indices where diff.flushedChains.contains(t.chains[i].name) {
            for r in t.chains[i].rules.indices { (t.chains[i].rules[r].packets, t.chains[i].rules[r].bytes) = (0, 0) }
        }
        table = t
        return true
    }

    func ruleCounters(chains: [String]) throws(NetlinkError) -> [ChainStatus] {
        calls.append("counters")
        return table?.chains.filter { chains.contains($0.name) } ?? []
    }

    func instance() throws(NetlinkError) -> TableInstance? {
        table.map { TableInstance(handle: $0.handle ?? 0, tableComment: $0.comment, policyComment: $0.chainComments[KernelLayout.policyChain]) }
    }

    /// Sets drone a's maps counter (what the kernel counted since the rule was made).
    func count(_ packets: UInt64) {
        guard var t = table, let c = t.chains.firstIndex(where: { $0.name == KernelLayout.droneChain("a") }) else { return }
        (t.chains[c].rules[0].packets, t.chains[c].rules[0].bytes) = (packets, packets * 100)
        table = t
    }
}

extension Ruleset {
    /// What the ruleset names as applied (the comment of its policy chain).
    var policyText: String? { table.chain(named: KernelLayout.policyChain)?.comment }
}

final class FakeResolver: StationResolving {
    let names: [String: String]
    var pending: [BlockedEvent] = []
    private(set) var reloads: [UInt32] = []
    private(set) var stopped = false

    init(names: [String: String] = [:]) { self.names = names }

    var ports: [Int] { [15301] }
    var upstreams: [String] { ["192.0.2.53"] }
    func hostName(for address: IPNetwork) -> String? { names[address.description] }
    func takeEvents() -> [BlockedEvent] {
        defer { pending = [] }
        return pending
    }
    func reload(_ snapshot: PolicySnapshot) throws { reloads.append(snapshot.generation) }
    func stop() -> String {
        stopped = true
        return "resolver: stopped"
    }
}

/// A kernel refusal names the config place that produced the refused object, down to the line
/// and column, so `dronewall apply` can show it like a config error.
@Suite struct KernelErrorPlaceTests {
    @Test func aRefusedDroneChainNamesItsConfigSection() throws {
        let snapshot = try StationTests.snapshot()
        let transport = RecordingTransport()
        let client = NftablesClient(transport: transport, table: KernelLayout.tableName)
        try client.apply(snapshot.ruleset, carryingLearnedElements: false)
        let batch = try #require(transport.batches.last)
        let index = try #require(batch.firstIndex { $0.subject?.description == "chain drone_a" })
        transport.failures[index] = (errno: EEXIST, extendedAck: nil, offset: nil)
        do {
            try client.apply(snapshot.ruleset, carryingLearnedElements: false)
            Issue.record("the scripted refusal must fail the apply")
        } catch {
            #expect(error.isAlreadyExists)
            // `[drone a]` is line 3 of the test config.
            let origin = try #require(error.origin)
            #expect(origin.file == "/etc/dw/dronewall.conf" && origin.line == 3)
            #expect(error.object == .chain("drone_a"))
        }
    }
}
