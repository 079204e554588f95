import Foundation
import Testing
import NftModel
@testable import Netfilter
import NetfilterTesting

/// An incremental apply against the real kernel: the table it leaves is the one a replace with
/// the new ruleset gives, and what it does not name (learned addresses) stays.
@Suite(.enabled(if: geteuid() == 0, "not root: kernel tests need CAP_NET_ADMIN and network namespaces"), .serialized)
struct IncrementalKernelTests {
    let kernel = KernelTests()

    /// `Fixtures.ruleset` with a policy chain and a second drone that a verdict-map element jumps to.
    static var before: Ruleset {
        var r = Fixtures.ruleset
        r.table.sets.append(NamedSet(name: "drone_old_block", keyType: .ipv4Address, flags: .interval,
                                     elements: [SetElement(key: .network(Fixtures.net("198.51.100.64/26")))]))
        let i = r.table.sets.firstIndex { $0.name == "drone_verdicts" }!
        r.table.sets[i].elements.append(SetElement(key: .mark(0x0003_0000), data: .verdict(.jump("drone_old"))))
        r.table.chains.insert(Chain(name: "applied_policy", comment: "policy one"), at: 0)
        r.table.chains.insert(Chain(name: "drone_old", rules: [
            Rule([.inSet(.ipv4Destination, set: "drone_old_block", negated: false)], [.counter], .verdict(.drop)),
        ]), at: 1)
        return r
    }

    /// One drone gone, another come, a changed rule, catalogue elements added, removed and
    /// re-valued, and the policy chain's comment.
    static var after: Ruleset {
        var r = before
        r.table.sets.removeAll { $0.name == "drone_old_block" }
        r.table.chains.removeAll { $0.name == "drone_old" }
        r.table.sets.append(NamedSet(name: "drone_new_block", keyType: .ipv4Address, flags: .interval,
                                     elements: [SetElement(key: .network(Fixtures.net("198.51.100.128/25")))]))
        let v = r.table.sets.firstIndex { $0.name == "drone_verdicts" }!
        r.table.sets[v].elements.removeAll { $0.key == .mark(0x0003_0000) }
        r.table.sets[v].elements.append(SetElement(key: .mark(0x0004_0000), data: .verdict(.goto("drone_new"))))
        let e = r.table.sets.firstIndex { $0.name == "endpoints_v4" }!
        r.table.sets[e].elements = [
            SetElement(key: .network(Fixtures.net("203.0.113.0/24")), data: .mark(0x0000_0008)),  // new value
            SetElement(key: .network(Fixtures.net("192.0.2.128/25")), data: .mark(0x0000_0002)),  // new
        ]                                                                                        // 198.51.100.7 gone
        r.table.chains[0].comment = "policy two"
        r.table.chains.append(Chain(name: "drone_new", rules: [
            Rule([.inSet(.ipv4Destination, set: "drone_new_block", negated: false)], [.counter], .verdict(.drop)),
            Rule([], [], .verdict(.accept)),
        ]))
        let f = r.table.chains.firstIndex { $0.name == "forward" }!
        r.table.chains[f].rules[0] = Rule([.equals(.inputInterfaceName, .interfaceName("lo0"), negated: false)], [], .verdict(.accept))
        return r
    }

    /// The listing with its blocks (sets, maps, chains) sorted: a change adds new ones at the
    /// end of the kernel's lists, a replace in the ruleset's order; nft lists them in that order.
    func blocks(_ ns: KernelTests.Namespace) throws -> [String] {
        let text = try kernel.listing(ns)
        var out: [String] = [], current = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("\tset ") || line.hasPrefix("\tmap ") || line.hasPrefix("\tchain ") || line == "}" {
                if !current.isEmpty { out.append(current) }
                current = ""
            }
            if !line.isEmpty { current += line + "\n" }
        }
        if !current.isEmpty { out.append(current) }
        return out.sorted()
    }

    @Test func aChangeLeavesTheTableAReplaceWouldAndKeepsWhatWasLearned() throws {
        let learned = NamedSet(name: "learned_v4", keyType: .ipv4Address, dataType: .mark, flags: .timeout)
        let runtime = ElementChange.add([SetElement(key: .network(Fixtures.net("203.0.113.99")), data: .mark(4),
                                                    timeoutMilliseconds: 600_000, comment: "tiles.example")], to: learned)
        try kernel.withNamespace { changed in
            try kernel.withNamespace { replaced in
                let c = try kernel.client(changed)
                try c.apply(Self.before)
                try c.change([runtime])
                // What a change reads before it flushes a chain: that chain's rules only.
                let counted = try c.ruleCounters(chains: ["drone_old", "no_such_chain"])
                #expect(counted.map(\.name) == ["drone_old", "no_such_chain"] && counted.map(\.rules.count) == [1, 0])
                #expect(counted.first?.rules.first?.packets == 0)
                let handle = try #require(try c.instance(policyChain: "applied_policy"))
                #expect(handle.policyComment == "policy one")
                let diff = try #require(RulesetDiff(from: Self.before, to: Self.after))
                #expect(try c.applyChanges(diff, to: Self.after, expecting: handle, policyChain: "applied_policy"))
                let now = try #require(try c.instance(policyChain: "applied_policy"))
                #expect(now.handle == handle.handle && now.policyComment == "policy two")
                #expect(try c.elements(set: "learned_v4")?.contains { $0.comment == "tiles.example" } == true,
                        "what the resolver learned stays")

                let r = try kernel.client(replaced)
                try r.apply(Self.after)
                try r.change([runtime])
                let a = try blocks(changed), b = try blocks(replaced)
                #expect(a.contains { $0.contains("chain drone_new {") } && !a.contains { $0.contains("drone_old") })
                #expect(a == b, "\n--- changed ---\n\(a.joined())\n--- replaced ---\n\(b.joined())")

                // A table that is not the one expected gets nothing.
                #expect(try !c.applyChanges(diff, to: Self.after, expecting: handle, policyChain: "applied_policy"))
                #expect(try blocks(changed) == a)
            }
        }
    }
}
