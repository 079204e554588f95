import Dispatch
import DronewallConfig
import KernelLayout
import NetAddress
import Netfilter
import NetfilterTesting
import NftModel
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@testable import StationResolver
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The learner's batch planning and its per-element retry, against an in-memory kernel of set
/// elements (no root). `LearnerKernelTests` runs the same kind of checks against the kernel.
@Suite struct LearnerTests {
    let x = try! IPNetwork.parse("203.0.113.7")
    let y = try! IPNetwork.parse("203.0.113.8")
    let v6 = try! IPNetwork.parse("2001:db8:c::7")

    func learner(_ kernel: FakeSetKernel) -> Learner { Learner(client: NftablesClient(transport: kernel, table: "dronewall")) }

    func learn(_ l: Learner, _ r: Learner.Request) -> Result<Void, NetlinkError> {
        let done = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var result: Result<Void, NetlinkError>? }
        let box = Box()
        l.learn(r) { box.result = $0; done.signal() }
        done.wait()
        return box.result!
    }

    func mark(_ e: KernelElement?) -> UInt32? {
        e?.data.flatMap { $0.count == 4 ? $0.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } : nil }
    }

    func request(_ addresses: [IPNetwork], _ categories: [Category], name: String = "flysafe-api.dji.com",
                 hostSets: [(drone: String, kind: KernelLayout.HostListKind)] = []) -> Learner.Request {
        .init(addresses: addresses, mask: CategorySet(categories).rawValue, name: name, timeoutMilliseconds: 60_000,
              hostSets: hostSets)
    }

    // MARK: planning

    @Test func oneBatchPutsDeletesBeforeAddsAndMergesRepeats() {
        var known: [String: [IPNetwork: Learner.Entry]] = [:]
        var plan = Learner.Plan()
        plan.add(request([x, v6], [.geofence]), now: 0, known: &known)
        plan.add(request([x], [.firmware], name: "dl.djicdn.com", hostSets: [("d", .allow)]), now: 0, known: &known)
        let changes = plan.changes()
        #expect(changes.map { "\($0.isDelete ? "delete" : "add") \($0.set.name) \($0.elements.count)" }
                == ["add learned_v4 1", "add learned_v6 1", "add drone_d_allow_dns_v4 1"])
        #expect(changes[0].elements[0].data == .mark(Category.geofence.bit | Category.firmware.bit),
                "the same address twice in one batch: one element, categories united")
        #expect(changes[2].elements[0].data == nil, "host sets carry no class")
        #expect(plan.count == 3)

        // Next batch: what this learner wrote is replaced, deleted by key first.
        var next = Learner.Plan()
        next.add(request([x], [.maps]), now: 1_000, known: &known)
        #expect(next.changes().map { "\($0.isDelete ? "delete" : "add") \($0.set.name)" }
                == ["delete learned_v4", "add learned_v4"])
        #expect(next.changes()[0].elements[0].data == nil, "a delete names the key alone")
        #expect(next.changes()[1].elements[0].data
                == .mark(Category.geofence.bit | Category.firmware.bit | Category.maps.bit))
    }

    @Test func classMapsHoldCatalogueAddressesLongerThanTheirTTL() {
        var known: [String: [IPNetwork: Learner.Entry]] = [:]
        var plan = Learner.Plan()
        var r = request([x], [.geofence], hostSets: [("d", .block)])
        r.timeoutMilliseconds = 2_000            // the vendor's TTL (+ grace)
        r.holdMilliseconds = 86_400_000          // dns-hold
        plan.add(r, now: 0, known: &known)
        let changes = plan.changes()
        #expect(changes.map(\.set.name) == ["learned_v4", "drone_d_block_dns_v4"])
        #expect(changes[0].elements[0].timeoutMilliseconds == 86_400_000, "the class map keeps the address a day")
        #expect(changes[1].elements[0].timeoutMilliseconds == 2_000, "host sets follow the TTL")
    }

    @Test func aRefreshUnitesCategoriesInTheKernel() {
        let kernel = FakeSetKernel()
        let l = learner(kernel)
        #expect((try? learn(l, request([x], [.geofence])).get()) != nil)
        #expect((try? learn(l, request([x], [.flightLogs], name: "mydjiflight.dji.com")).get()) != nil)
        #expect(mark(kernel.element("learned_v4", x.bytes)) == Category.geofence.bit | Category.flightLogs.bit)
        #expect(kernel.batches.last?.map(\.op) == [.delete, .add])
        #expect(kernel.refused.isEmpty)
        #expect(l.name(for: x) == "mydjiflight.dji.com")
        #expect(l.batches == 2)
    }

    // MARK: retry

    @Test func aRefusedBatchIsRetriedElementByElementKeepingCategories() {
        let kernel = FakeSetKernel()
        // Written behind the learner's back (another daemon, before a restart): it does not know.
        kernel.hold("learned_v4", KernelElement(key: x.bytes, data: [UInt8(Category.media.bit), 0, 0, 0],
                                                timeoutMilliseconds: 60_000, comment: "media.dji.com"))
        let l = learner(kernel)
        let result = learn(l, request([x, y], [.geofence]))
        #expect((try? result.get()) != nil)
        #expect(kernel.refused == [0, 1], "the planned batch, then x's own add, collided with the unknown element")
        #expect(kernel.batches.map { $0.map(\.op) } == [[.add, .add], [.add], [.delete, .add], [.add]],
                "planned batch; x alone; x replaced; y alone")
        #expect(mark(kernel.element("learned_v4", x.bytes)) == Category.media.bit | Category.geofence.bit,
                "replaced with the union of both values")
        #expect(mark(kernel.element("learned_v4", y.bytes)) == Category.geofence.bit)
        #expect(l.batches == 1)
    }

    @Test func anElementTheKernelRefusesIsReportedAndTheRestLearned() {
        let kernel = FakeSetKernel()
        kernel.refuseAdds[x.bytes] = ENOSPC
        let l = learner(kernel)
        let result = learn(l, request([x, y], [.telemetry]))
        guard case let .failure(error) = result else {
            Issue.record("a refused element must fail the request")
            return
        }
        #expect(error.errno == ENOSPC)
        #expect(kernel.element("learned_v4", x.bytes) == nil)
        #expect(mark(kernel.element("learned_v4", y.bytes)) == Category.telemetry.bit, "the other element still lands")
        // The learner forgot x: once the kernel takes it, the next answer adds it afresh (no
        // delete of a key it does not hold).
        kernel.refuseAdds = [:]
        #expect((try? learn(l, request([x], [.telemetry])).get()) != nil)
        #expect(kernel.batches.last?.map(\.op) == [.add])
    }

    @Test func preloadKnowsCarriedElementsAndTheirNames() {
        let kernel = FakeSetKernel()
        kernel.hold("learned_v4", KernelElement(key: x.bytes, data: [UInt8(Category.geofence.bit), 0, 0, 0],
                                                timeoutMilliseconds: 60_000, comment: "flysafe-api.dji.com"))
        let l = learner(kernel)
        l.preload([NamedSet(name: "learned_v4", keyType: .ipv4Address, dataType: .mark, flags: .timeout)])
        #expect(l.name(for: x) == "flysafe-api.dji.com")
        #expect((try? learn(l, request([x], [.maps])).get()) != nil)
        #expect(kernel.refused.isEmpty, "known, so replaced by delete + add at once")
        #expect(mark(kernel.element("learned_v4", x.bytes)) == Category.geofence.bit | Category.maps.bit)
    }

    // MARK: what accepted flows did not know

    /// Learns each request in turn and returns the gains each batch reported.
    func gainsOf(_ requests: [Learner.Request]) -> [LearnedGains] {
        final class Box: @unchecked Sendable { var all: [LearnedGains] = [] }
        let box = Box()
        let l = Learner(client: NftablesClient(transport: FakeSetKernel(), table: "dronewall"),
                        gained: { box.all.append($0) })
        for r in requests { _ = learn(l, r) }
        return box.all
    }

    @Test func newClassesAreGainsRefreshesAreNot() {
        var withStatic = request([y], [.geofence])
        withStatic.extraMasks = [y: Category.geofence.bit]
        var staticPlusNew = request([y], [.telemetry])
        staticPlusNew.extraMasks = [y: Category.geofence.bit]
        let gains = gainsOf([request([x], [.geofence]), request([x], [.geofence]), request([x], [.firmware]),
                             withStatic, staticPlusNew])
        #expect(gains == [LearnedGains(classes: [x: Category.geofence.bit]),
                          LearnedGains(classes: [x: Category.firmware.bit]),
                          LearnedGains(classes: [y: Category.telemetry.bit])],
                "a first class, then only what is new; classes a catalogue network gave the address already count as known")
    }

    @Test func aNewBlockedHostIsAGainAllowedAndResolvedOnesAreNot() {
        let gains = gainsOf([request([x], [], name: "tiles.example.org", hostSets: [("a", .allow), ("b", .resolved)]),
                             request([v6], [], name: "spy.example.org", hostSets: [("a", .block)]),
                             request([v6], [], name: "spy.example.org", hostSets: [("a", .block)])])
        #expect(gains == [LearnedGains(blockedHosts: [v6])], "only what takes permission away, and only once")
    }

    // MARK: where batches are committed

    /// Runs `body` on `loop` as one task (one turn) and waits for it.
    func onLoop(_ loop: any EventLoop, _ body: @escaping @Sendable () -> Void) {
        try! loop.submit(body).wait()
    }

    final class Results: @unchecked Sendable {
        let lock = NIOLock()
        var done: [(ok: Bool, onLoop: Bool)] = []
        func add(_ r: Result<Void, NetlinkError>, _ onLoop: Bool) { lock.withLock { done.append(((try? r.get()) != nil, onLoop)) } }
        var count: Int { lock.withLock { done.count } }
        var all: [(ok: Bool, onLoop: Bool)] { lock.withLock { done } }
    }

    @Test func theRequestsOfOneLoopTurnGoInOneBatchCommittedOnTheLoop() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let kernel = FakeSetKernel()
        let l = Learner(client: NftablesClient(transport: SharedTransport(kernel), table: "dronewall"))
        let results = Results()
        onLoop(loop) {
            l.learn(self.request([self.x], [.geofence]), on: loop) { results.add($0, loop.inEventLoop) }
            l.learn(self.request([self.y], [.telemetry]), on: loop) { results.add($0, loop.inEventLoop) }
            #expect(results.count == 0, "nothing is committed before the turn ends")
        }
        onLoop(loop) {}  // the end-of-turn commit ran before this task
        #expect(results.all.map(\.ok) == [true, true])
        #expect(results.all.allSatisfy { $0.onLoop }, "answers complete on their loop: no hop to another thread and back")
        #expect(l.batches == 1 && l.batchesOnLoops == 1 && kernel.batches.count == 1, "one batch for the turn")
        #expect(mark(kernel.element("learned_v4", y.bytes)) == Category.telemetry.bit)
    }

    @Test func aLoopNeverWaitsForTheSocketAnotherThreadHolds() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let kernel = FakeSetKernel()
        let shared = SharedTransport(kernel)
        let l = Learner(client: NftablesClient(transport: shared, table: "dronewall"))
        // Another thread (the daemon's main loop sending an apply) holds the socket.
        let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = shared.ifIdle { holding.signal(); release.wait() }
        }
        holding.wait()
        let results = Results()
        onLoop(loop) { l.learn(self.request([self.x], [.geofence]), on: loop) { results.add($0, loop.inEventLoop) } }
        onLoop(loop) {}  // the loop went on to its next turn: it did not wait for the socket
        #expect(results.count == 0, "the batch waits for the socket, on the learner's thread")
        release.signal()
        l.waitUntilIdle()
        #expect(results.all.map(\.ok) == [true] && results.all.allSatisfy { !$0.onLoop })
        #expect(l.batches == 1 && l.batchesOnLoops == 0)
        #expect(mark(kernel.element("learned_v4", x.bytes)) == Category.geofence.bit)
    }
}
