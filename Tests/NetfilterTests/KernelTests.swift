import Foundation
import Testing
import NftModel
@testable import Netfilter
import NetfilterTesting

/// Lab tests against the real kernel, each in fresh network namespaces that are always removed.
/// They need root (CAP_NET_ADMIN + CAP_SYS_ADMIN for namespaces); without it the suite reports skipped.
@Suite(.enabled(if: geteuid() == 0, "not root: kernel tests need CAP_NET_ADMIN and network namespaces"), .serialized)
struct KernelTests {
    // MARK: helpers

    struct Namespace {
        let name: String
    }

    /// Creates a namespace, runs `body`, and deletes the namespace whatever happens.
    func withNamespace(_ body: (Namespace) throws -> Void) throws {
        try TestNamespace.with(prefix: "dwtest") { try body(Namespace(name: $0)) }
    }

    @discardableResult
    func run(_ args: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestNamespace.run(args, stdin: stdin)
    }

    func nft(_ ns: Namespace, _ args: String..., stdin: String? = nil) throws -> String {
        let r = try run(["ip", "netns", "exec", ns.name, "nft"] + args, stdin: stdin)
        #expect(r.status == 0, "nft \(args.joined(separator: " ")): \(r.stderr)")
        return r.stdout
    }

    /// `nft list table inet dronewall` without the parts that depend on time.
    func listing(_ ns: Namespace, table: String = "inet dronewall") throws -> String {
        let parts = table.split(separator: " ").map(String.init)
        let r = try run(["ip", "netns", "exec", ns.name, "nft", "list", "table"] + parts)
        guard r.status == 0 else { return "<absent: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))>" }
        return r.stdout.replacingOccurrences(of: #" expires [0-9hms]+"#, with: "", options: .regularExpression)
    }

    /// The kernel's expressions and set elements as `nft --debug=netlink list` prints them,
    /// without rule handles: a stricter oracle than the text, down to each register load.
    func expressions(_ ns: Namespace) throws -> String {
        let r = try run(["ip", "netns", "exec", ns.name, "nft", "--debug=netlink", "list", "table", "inet", "dronewall"])
        var out: [String] = [], elements: [String] = []
        for line in r.stdout.replacingOccurrences(of: #" expires [0-9hms]+"#, with: "", options: .regularExpression)
            .split(separator: "\n", omittingEmptySubsequences: false) {
            // Hash sets dump in a per-set random order: compare their elements sorted.
            if line.hasPrefix("\telement ") { elements.append(String(line)); continue }
            out += elements.sorted()
            elements = []
            // "inet dronewall forward 12 11" -> "inet dronewall forward" (handles differ)
            out.append(line.hasPrefix("inet dronewall ") ? line.split(separator: " ").prefix(3).joined(separator: " ")
                                                        : String(line))
        }
        return (out + elements.sorted()).joined(separator: "\n")
    }

    func assertSameKernelView(_ ours: Namespace, _ theirs: Namespace,
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        let a = try listing(ours), b = try listing(theirs)
        #expect(a == b, "\n--- ours ---\n\(a)\n--- nft -f ---\n\(b)", sourceLocation: sourceLocation)
        let x = try expressions(ours), y = try expressions(theirs)
        #expect(x == y, "\n--- ours ---\n\(x)\n--- nft -f ---\n\(y)", sourceLocation: sourceLocation)
    }

    func client(_ ns: Namespace) throws -> NftablesClient {
        NftablesClient(transport: try KernelTransport(networkNamespace: ns.name, timeoutSeconds: 10), table: "dronewall")
    }

    // MARK: tests

    /// The differential oracle: our batch and `nft -f` of equivalent text list identically.
    @Test func batchListsLikeNftOfTheSameText() throws {
        try withNamespace { ours in
            try withNamespace { theirs in
                try client(ours).apply(Fixtures.ruleset)
                _ = try nft(theirs, "-f", "-", stdin: Fixtures.nftText)
                try assertSameKernelView(ours, theirs)
            }
        }
    }

    @Test func cornerCasesListLikeNft() throws {
        try withNamespace { ours in
            try withNamespace { theirs in
                try client(ours).apply(Fixtures.cornerCases)
                _ = try nft(theirs, "-f", "-", stdin: Fixtures.cornerCasesText)
                try assertSameKernelView(ours, theirs)
            }
        }
    }

    /// The renderer's text, fed to `nft -f`, lists like our batch of the same IR.
    @Test func batchListsLikeNftOfRenderedText() throws {
        try withNamespace { ours in
            try withNamespace { theirs in
                try client(ours).apply(Fixtures.ruleset)
                let text = NftTextRenderer.render(Fixtures.ruleset)
                let r = try run(["ip", "netns", "exec", theirs.name, "nft", "-f", "-"], stdin: text)
                guard r.status == 0 else {
                    Issue.record("nft -f refused the rendered text (renderer issue, not Netfilter):\n\(r.stderr)\n\(text)")
                    return
                }
                let a = try listing(ours), b = try listing(theirs)
                #expect(a == b, "\n--- ours ---\n\(a)\n--- nft -f rendered ---\n\(b)")
            }
        }
    }

    @Test func applyTwiceAndFlushLeaveForeignTablesAlone() throws {
        try withNamespace { ns in
            _ = try nft(ns, "-f", "-", stdin: """
                table inet other {
                    set keep { type ipv4_addr; elements = { 192.0.2.200 } }
                    chain input { type filter hook input priority 0; policy accept; ip saddr @keep counter accept; }
                }
                """)
            let foreign = try listing(ns, table: "inet other")
            let c = try client(ns)
            try c.apply(Fixtures.ruleset)
            let first = try listing(ns)
            try c.apply(Fixtures.ruleset)
            #expect(try listing(ns) == first)
            let tables = try nft(ns, "list", "tables")
            #expect(tables.split(separator: "\n").sorted() == ["table inet dronewall", "table inet other"])
            #expect(try listing(ns, table: "inet other") == foreign)

            #expect(try c.flush())
            #expect(try nft(ns, "list", "tables") == "table inet other\n")
            #expect(try listing(ns, table: "inet other") == foreign)
            #expect(try !c.flush())
            #expect(try listing(ns, table: "inet other") == foreign)
        }
    }

    @Test func rejectedBatchChangesNothing() throws {
        try withNamespace { ns in
            let c = try client(ns)
            try c.apply(Fixtures.ruleset)
            let before = try listing(ns)

            // A rule that jumps to a chain that does not exist.
            var bad = Fixtures.ruleset
            bad.table.chains[1].rules.append(Rule([], [], .verdict(.jump("drone_missing")), origin: "drones.d/x.conf:9:2"))
            let e = try #require(throws: NetlinkError.self) { try c.apply(bad) }
            #expect(e.kind == .rejected, "\(e)")
            #expect(e.object == .rule(chain: "forward", index: bad.table.chains[1].rules.count), "\(e)")
            #expect(e.origin == "drones.d/x.conf:9:2", "\(e)")
            print("rejected as expected: \(e)")
            #expect(try listing(ns) == before)

            // Overlapping intervals in one set.
            var overlap = Fixtures.ruleset
            overlap.table.sets[3].elements.append(SetElement(key: .network(Fixtures.net("192.0.2.20")),
                                                             origin: "drones.d/y.conf:3:9"))
            let refused = try #require(throws: NetlinkError.self) { try c.apply(overlap) }
            #expect(refused.kind == .rejected, "\(refused)")
            #expect(refused.object?.description.hasPrefix("set drones_v4") == true, "\(refused)")
            print("rejected as expected: \(refused)")
            #expect(try listing(ns) == before)
        }
    }

    @Test func timeoutElementsAddAndDelete() throws {
        try withNamespace { ns in
            let c = try client(ns)
            try c.apply(Fixtures.ruleset)
            let v4 = Fixtures.ruleset.table.set(named: "learned_v4")!
            let v6 = Fixtures.ruleset.table.set(named: "learned_v6")!
            let e4 = SetElement(key: .network(Fixtures.net("198.51.100.77")), data: .mark(0x11), timeoutMilliseconds: 120_000)
            let e6 = SetElement(key: .network(Fixtures.net("2001:db8::77")), data: .mark(0x12), timeoutMilliseconds: 60_000)
            try c.change([.add([e4], to: v4)])
            try c.change([.add([e6], to: v6)])
            var text = try listing(ns)
            #expect(text.contains("198.51.100.77 timeout 2m : 0x00000011"), "\(text)")
            #expect(text.contains("2001:db8::77 timeout 1m : 0x00000012"), "\(text)")
            let status = try #require(try c.status())
            #expect((status.sets.first { $0.name == "learned_v4" }?.elementCount) == 2)
            #expect((status.sets.first { $0.name == "learned_v6" }?.elementCount) == 1)

            try c.change([.delete(keys: [e4.key], from: v4)])
            try c.change([.delete(keys: [e6.key], from: v6)])
            text = try listing(ns)
            #expect(!text.contains("198.51.100.77"), "\(text)")
            #expect(!text.contains("2001:db8::77"), "\(text)")
            #expect(text.contains("198.51.100.9 timeout 1h"), "\(text)")

            // Deleting what is not there is a typed error naming the element.
            let e = try #require(throws: NetlinkError.self) { try c.change([.delete(keys: [e4.key], from: v4)]) }
            #expect(e.errno == ENOENT, "\(e)")
            #expect(e.object == .element(set: "learned_v4", value: "198.51.100.77"), "\(e)")
        }
    }

    /// Learned addresses survive a re-apply: same batch, remaining timeout, comment (the name).
    @Test func reapplyCarriesLearnedElementsWithTheirNames() throws {
        try withNamespace { ns in
            let c = try client(ns)
            try c.apply(Fixtures.ruleset)
            let v4 = Fixtures.ruleset.table.set(named: "learned_v4")!
            let e4 = SetElement(key: .network(Fixtures.net("198.51.100.78")), data: .mark(0x5), timeoutMilliseconds: 120_000,
                                comment: "flysafe-api.dji.com")
            try c.change([.add([e4], to: v4)])
            let carried = try c.apply(Fixtures.ruleset)
            #expect(carried >= 1)
            let live = try #require(try c.elements(set: "learned_v4"))
            let mine = try #require(live.first { $0.key == [198, 51, 100, 78] }, "\(live)")
            #expect(mine.comment == "flysafe-api.dji.com")
            #expect(mine.data == [5, 0, 0, 0])
            #expect(mine.expiresMilliseconds ?? .max <= 120_000)
            #expect(mine.expiresMilliseconds ?? 0 > 100_000)
            #expect(try listing(ns).contains("198.51.100.78"))
            // Without carrying, a re-apply starts empty (the fixture's own elements only).
            try c.apply(Fixtures.ruleset, carryingLearnedElements: false)
            #expect(try !listing(ns).contains("198.51.100.78"))
            #expect(try c.elements(set: "no_such_set") == nil)
        }
    }

    /// The carry-over race against the real kernel: a batch carrying a generation that another
    /// socket's commit moved on is refused whole (ERESTART), and `apply` reads again and carries
    /// the element that commit added.
    @Test func aStaleGenerationIsRefusedAndTheRetryCarriesTheRacingElement() throws {
        try withNamespace { ns in
            let c = try client(ns)
            let learner = try client(ns)  // another socket, as the daemon's learner has
            try c.apply(Fixtures.ruleset)
            let v4 = Fixtures.ruleset.table.set(named: "learned_v4")!
            func element(_ last: Int, _ name: String) -> SetElement {
                SetElement(key: .network(Fixtures.net("203.0.113.\(last)")), data: .mark(0x4),
                           timeoutMilliseconds: 300_000, comment: name)
            }

            // 1. The kernel refuses a batch whose generation is stale, before running any of it.
            let before = try c.rulesetGeneration()
            #expect(before != 0, "0 would mean no check")
            try learner.change([.add([element(20, "stale.example")], to: v4)])
            let after = try c.rulesetGeneration()
            #expect(after != before, "an element add is a commit")
            let stale = try #require(throws: NetlinkError.self) {
                try c.send(try c.applyBatch(Fixtures.ruleset, rulesetGeneration: before), operation: "apply")
            }
            #expect(stale.errno == ERESTART, "\(stale)")
            #expect(stale.object == .batch, "\(stale)")
            #expect(try listing(ns).contains("203.0.113.20"), "the refused batch would have dropped it")
            #expect(try c.rulesetGeneration() == after, "a refused batch commits nothing")
            // The current generation passes (and carries nothing: a plain replace).
            try c.send(try c.applyBatch(Fixtures.ruleset, rulesetGeneration: after), operation: "apply")
            #expect(try !listing(ns).contains("203.0.113.20"))

            // 2. The learner commits between apply's dump and its batch: the first batch is refused,
            //    the second try dumps again and carries both elements.
            try learner.change([.add([element(21, "early.example")], to: v4)])
            var tries: [Int] = [], hookErrors: [Error] = []
            c.betweenDumpAndBatch = { attempt in
                tries.append(attempt)
                guard attempt == 1 else { return }
                do { try learner.change([.add([element(22, "racing.example")], to: v4)]) } catch { hookErrors.append(error) }
            }
            let carried = try c.apply(Fixtures.ruleset)
            #expect(hookErrors.isEmpty, "\(hookErrors)")
            #expect(tries == [1, 2])
            #expect(carried == 2)
            let live = try #require(try c.elements(set: "learned_v4"))
            for (last, name) in [(21, "early.example"), (22, "racing.example")] {
                let e = try #require(live.first { $0.key == [203, 0, 113, UInt8(last)] }, "\(name) lost: \(live)")
                #expect(e.comment == name)
                #expect(e.data == [4, 0, 0, 0])
            }
        }
    }

    /// Without CAP_NET_ADMIN the batch is refused as a whole and the error says so (CLI exit 77).
    @Test func withoutNetAdminIsPermissionDenied() throws {
        try withNamespace { ns in
            final class Outcome: @unchecked Sendable { var error: Error?; var dropped = false }
            let outcome = Outcome()
            let done = DispatchSemaphore(value: 0)
            let name = ns.name
            // A dedicated thread: dropping the capability there leaves the test process untouched.
            let thread = Thread {
                defer { done.signal() }
                outcome.dropped = dropNetAdminForCurrentThread()
                do {
                    let c = NftablesClient(transport: try KernelTransport(networkNamespace: name, timeoutSeconds: 5), table: "dronewall")
                    try c.apply(Fixtures.ruleset)
                } catch {
                    outcome.error = error
                }
            }
            thread.start()
            done.wait()
            guard outcome.dropped else { try Test.cancel("cannot drop CAP_NET_ADMIN on a thread") }
            let e = try #require(outcome.error as? NetlinkError, "apply succeeded without CAP_NET_ADMIN")
            #expect(e.isPermissionDenied, "\(e)")
            #expect(e.errno == EPERM)
            print("refused as expected: \(e)")
            #expect(try listing(ns).hasPrefix("<absent"), "nothing may be applied")
        }
    }

    /// A station-sized ruleset: thousands of elements (split over many messages), hundreds of chains.
    @Test func largeBatchApplies() throws {
        try withNamespace { ns in
            var table = Fixtures.ruleset.table
            var elements: [SetElement] = []
            for i in 0..<6000 {
                let b = [UInt8(10), UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF), 0]
                elements.append(SetElement(key: .network(IPNetwork(bytes: b, prefixLength: 24)), data: .mark(UInt32(i))))
            }
            table.sets.append(NamedSet(name: "many", keyType: .ipv4Address, dataType: .mark, flags: .interval,
                                       elements: elements))
            for d in 0..<400 {
                table.chains.insert(Chain(name: "drone_\(d)", rules: [
                    Rule([.masked(.conntrackMark, mask: 0xFFFF, value: UInt32(d), negated: false)],
                         [.counter, .log(prefix: "dw d\(d) ", group: 5)], .verdict(.drop)),
                    Rule([], [], .verdict(.return)),
                ]), at: 0)
            }
            let c = try client(ns)
            try c.apply(Ruleset(table: table))
            try c.apply(Ruleset(table: table))
            let s = try #require(try c.status())
            #expect(s.chains.count == 403)
            #expect((s.sets.first { $0.name == "many" }?.elementCount) == 6000)
        }
    }

    @Test func statusReadsBack() throws {
        try withNamespace { ns in
            let c = try client(ns)
            #expect(try c.status() == nil)
            try c.apply(Fixtures.ruleset)
            // Loopback traffic passes the output chain; let it hit the counter of a catch-all rule.
            _ = try nft(ns, "insert", "rule", "inet", "dronewall", "output", "counter")
            _ = try run(["ip", "netns", "exec", ns.name, "ip", "link", "set", "lo", "up"])
            for _ in 0..<2 { // two UDP datagrams to the discard port (no ping in minimal images)
                _ = try run(["ip", "netns", "exec", ns.name, "bash", "-c", "echo x > /dev/udp/127.0.0.1/9"])
            }
            let s = try #require(try c.status())
            #expect(s.chains.map(\.name) == ["drone_survey", "forward", "output"])
            #expect(s.chains.map(\.hook) == [nil, .forward, .output])
            #expect(s.chains.map(\.rules.count) == [3, 18, 4])
            #expect(s.chains[0].rules[0].logPrefix == "dw survey flight-logs ")
            #expect(s.chains[0].rules[0].packets == 0)
            #expect(s.chains[0].rules[1].packets == nil)
            #expect(s.chains[2].rules[0].packets ?? 0 >= 2)
            #expect(s.chains[2].rules[0].bytes ?? 0 > 0)
            let counts = Dictionary(uniqueKeysWithValues: s.sets.map { ($0.name, $0.elementCount) })
            #expect(counts["drone_interfaces"] == 2)
            #expect(counts["endpoints_v4"] == 2)
            #expect(counts["endpoints_v6"] == 1)
            #expect(counts["drones_v4"] == 2)
            #expect(counts["drone_verdicts"] == 2)
            #expect(counts["learned_v6"] == 0)
        }
    }
}
