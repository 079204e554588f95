import StationResolver
import DronewallConfig
import DronewallPolicy
import Foundation
import Netfilter
import NetfilterTesting
import NftModel
import Testing

/// The learner against the kernel, in a network namespace of its own. Root only: without root the
/// suite is reported as skipped (never as passed).
@Suite(.enabled(if: geteuid() == 0, "not root: needs network namespaces and CAP_NET_ADMIN"))
struct LearnerKernelTests {

    /// A namespace with the compiled lab-like table; removed afterwards, also on failure.
    func withTable(_ body: (NftablesClient) throws -> Void) throws {
        try TestNamespace.with(prefix: "dwlearn") { ns in
            let conf = "[drone d]\naddress = 192.0.2.10\npolicy = allowlist\nallow-host = tiles.example.org\n"
            let (cfg, diags) = ConfigReader(reader: MemoryReader(["/t.conf": conf])).read(mainPath: "/t.conf")
            var d = diags
            let compiled = PolicySnapshot.build(config: cfg, catalogue: Catalogue(), resolveUser: { _ in nil }, into: &d)?.ruleset
            let ruleset = try #require(compiled, "\(d.rendered)")
            let client = NftablesClient(transport: try KernelTransport(networkNamespace: ns), table: "dronewall")
            try client.apply(ruleset)
            try body(client)
        }
    }

    /// Learns and waits for the batch.
    func learn(_ l: Learner, _ r: Learner.Request) throws {
        let done = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var result: Result<Void, NetlinkError>? }
        let box = Box()
        l.learn(r) { box.result = $0; done.signal() }
        done.wait()
        try box.result!.get()
    }

    func element(_ c: NftablesClient, _ set: String, _ key: [UInt8]) throws -> KernelElement? {
        try c.elements(set: set)?.first { $0.key == key }
    }

    @Test func learnsRefreshesAndUnites() throws {
        try withTable { c in
            let l = Learner(client: c)
            let a4 = try IPNetwork.parse("203.0.113.7"), a6 = try IPNetwork.parse("2001:db8:c::7")
            try learn(l, .init(addresses: [a4, a6], mask: Category.geofence.bit, name: "flysafe-api.dji.com",
                               timeoutMilliseconds: 60_000))
            let e = try #require(try element(c, "learned_v4", [203, 0, 113, 7]))
            #expect(e.data == [UInt8(Category.geofence.bit), 0, 0, 0] && e.comment == "flysafe-api.dji.com")
            #expect(try element(c, "learned_v6", a6.bytes) != nil)
            #expect(l.name(for: a4) == "flysafe-api.dji.com")
            // Learned again for another name: categories united, timeout refreshed upwards.
            try learn(l, .init(addresses: [a4], mask: Category.flightLogs.bit, name: "mydjiflight.dji.com",
                               timeoutMilliseconds: 600_000))
            let u = try #require(try element(c, "learned_v4", [203, 0, 113, 7]))
            #expect(u.data == [UInt8(Category.geofence.bit | Category.flightLogs.bit), 0, 0, 0])
            #expect((u.expiresMilliseconds ?? 0) > 300_000)
            #expect(try c.elements(set: "learned_v4")?.count == 1)
        }
    }

    /// A batch the kernel refuses (here: a set that does not exist) falls back to one element at
    /// a time, and an address never loses the categories it was learned with before.
    @Test func aFailedBatchNeverDropsCategories() throws {
        try withTable { c in
            let l = Learner(client: c)
            let a = try IPNetwork.parse("203.0.113.77")
            try learn(l, .init(addresses: [a], mask: Category.geofence.bit, name: "flysafe-api.dji.com",
                               timeoutMilliseconds: 60_000))
            #expect(throws: NetlinkError.self) {
                try learn(l, .init(addresses: [a], mask: Category.firmware.bit, name: "dl.djicdn.com",
                                   timeoutMilliseconds: 60_000, hostSets: [("no-such-drone", .allow)]))
            }
            let e = try #require(try element(c, "learned_v4", a.bytes))
            #expect(e.data == [UInt8(Category.geofence.bit | Category.firmware.bit), 0, 0, 0])
            try learn(l, .init(addresses: [a], mask: Category.maps.bit, name: "tiles.dji.com", timeoutMilliseconds: 60_000))
            let u = try #require(try element(c, "learned_v4", a.bytes))
            #expect(u.data.map { $0.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } }
                    == Category.geofence.bit | Category.firmware.bit | Category.maps.bit)
        }
    }

    @Test func hostSetsAndStaleStateRecover() throws {
        try withTable { c in
            let l = Learner(client: c)
            let a = try IPNetwork.parse("198.51.100.44")
            try learn(l, .init(addresses: [a], mask: 0, name: "tiles.example.org", timeoutMilliseconds: 60_000,
                               hostSets: [("d", .allow)]))
            #expect(try element(c, "drone_d_allow_dns_v4", a.bytes) != nil)
            #expect(try c.elements(set: "learned_v4")?.isEmpty == true, "mask 0: no class")
            // The element vanishes behind the learner's back (a re-apply without carrying it):
            // the next refresh must still land.
            let conf = "[drone d]\naddress = 192.0.2.10\npolicy = allowlist\nallow-host = tiles.example.org\n"
            let (cfg, _) = ConfigReader(reader: MemoryReader(["/t.conf": conf])).read(mainPath: "/t.conf")
            var d = Diagnostics()
            let compiled = PolicySnapshot.build(config: cfg, catalogue: Catalogue(), resolveUser: { _ in nil }, into: &d)?.ruleset
            try c.apply(try #require(compiled), carryingLearnedElements: false)
            #expect(try element(c, "drone_d_allow_dns_v4", a.bytes) == nil)
            try learn(l, .init(addresses: [a], mask: 0, name: "tiles.example.org", timeoutMilliseconds: 60_000,
                               hostSets: [("d", .allow)]))
            #expect(try element(c, "drone_d_allow_dns_v4", a.bytes) != nil)
        }
    }

    @Test func concurrentRequestsShareBatches() throws {
        try withTable { c in
            let l = Learner(client: c)
            let group = DispatchGroup()
            final class Failures: @unchecked Sendable { var n = 0; let lock = NSLock() }
            let failures = Failures()
            for i in 0..<400 {
                group.enter()
                let a = try IPNetwork.parse("198.51.100.\(i % 250)")
                let b = try IPNetwork.parse("2001:db8:d::\(String(i, radix: 16))")
                l.learn(.init(addresses: [a, b], mask: Category.telemetry.bit, name: "n\(i).example",
                              timeoutMilliseconds: 60_000)) { r in
                    if case .failure = r { failures.lock.lock(); failures.n += 1; failures.lock.unlock() }
                    group.leave()
                }
            }
            group.wait()
            #expect(failures.n == 0)
            #expect(try c.elements(set: "learned_v4")?.count == 250)
            #expect(try c.elements(set: "learned_v6")?.count == 400)
            #expect(l.batches < 400, "requests that wait share a batch (\(l.batches) batches)")
        }
    }
}
