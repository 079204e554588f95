import DronewallPolicy
import KernelLayout
import NftModel
import Testing

/// What an incremental apply sends for a policy change: only what differs, or nil where only a
/// replace can carry the change.
@Suite struct RulesetDiffTests {
    static let fleet = """
        [station]
        drone-interfaces = wlan0
        [drone a]
        mac = 02:00:00:00:00:0a
        policy = local-data
        [drone b]
        mac = 02:00:00:00:00:0b
        policy = local-data
        [drone c]
        mac = 02:00:00:00:00:0c
        policy = monitor

        """

    func compiled(_ text: String) throws -> Ruleset {
        let (r, d) = compile(text: text)
        return try #require(r, "\(d.rendered)")
    }

    @Test func oneDroneChangedTouchesItsChainAndWhatHoldsTheGeneration() throws {
        let old = try compiled(Self.fleet)
        let new = try compiled(Self.fleet.replacingOccurrences(of: "mac = 02:00:00:00:00:0b\npolicy = local-data",
                                                               with: "mac = 02:00:00:00:00:0b\npolicy = isolate"))
        let diff = try #require(RulesetDiff(from: old, to: new))
        // The generation changed, so the rules holding it change too; nobody else's chain does.
        #expect(Set(diff.flushedChains) == [KernelLayout.droneChain("b"), KernelLayout.acceptFlowChain, KernelLayout.forwardChain])
        #expect(Set(diff.filledChains.map(\.name)) == Set(diff.flushedChains))
        #expect(diff.deletedChains == [KernelLayout.policyChain] && diff.addedChains.map(\.name) == [KernelLayout.policyChain])
        #expect(diff.addedChains.first?.comment == new.table.chain(named: KernelLayout.policyChain)?.comment)
        #expect(diff.deletedElements.isEmpty && diff.addedElements.isEmpty && diff.addedSets.isEmpty && diff.deletedSets.isEmpty)
        #expect(diff.size < 200, "a few chains' worth, not the table")
    }

    @Test func aDroneAddedAndOneRemoved() throws {
        let old = try compiled(Self.fleet)
        let new = try compiled(Self.fleet.replacingOccurrences(of: "[drone c]\nmac = 02:00:00:00:00:0c",
                                                               with: "[drone d]\nmac = 02:00:00:00:00:0d"))
        let diff = try #require(RulesetDiff(from: old, to: new))
        #expect(diff.deletedChains.contains(KernelLayout.droneChain("c")) && diff.flushedChains.contains(KernelLayout.droneChain("c")))
        #expect(diff.addedChains.map(\.name).contains(KernelLayout.droneChain("d")))
        let macs = try #require(diff.deletedElements.first { $0.set.name == KernelLayout.dronesByMAC })
        #expect(macs.elements.map(\.data) == [.verdict(.goto(KernelLayout.droneChain("c")))])
        let added = try #require(diff.addedElements.first { $0.set.name == KernelLayout.dronesByMAC })
        #expect(added.elements.map(\.data) == [.verdict(.goto(KernelLayout.droneChain("d")))])
        #expect(!diff.flushedChains.contains(KernelLayout.droneChain("a")), "drone a is untouched")
    }

    @Test func aDroneAddedFirstShiftsNoOtherChainIntoTheChange() throws {
        let old = try compiled(Self.fleet)
        // Every chain and set after the new drone's is one place further on in the new table.
        let new = try compiled(Self.fleet.replacingOccurrences(of: "[drone a]",
                                                               with: "[drone first]\nmac = 02:00:00:00:00:01\npolicy = isolate\n[drone a]"))
        #expect(new.table.chains.map(\.name).firstIndex(of: KernelLayout.droneChain("a"))
                != old.table.chains.map(\.name).firstIndex(of: KernelLayout.droneChain("a")), "the premise: positions moved")
        let diff = try #require(RulesetDiff(from: old, to: new))
        #expect(diff.addedChains.map(\.name).contains(KernelLayout.droneChain("first")))
        for d in ["a", "b", "c"] {
            #expect(!diff.flushedChains.contains(KernelLayout.droneChain(d)) && !diff.deletedChains.contains(KernelLayout.droneChain(d)),
                    "drone \(d) is untouched")
        }
        #expect(diff.deletedChains == [KernelLayout.policyChain] && diff.deletedSets.isEmpty)
    }

    @Test func theSamePolicyIsNoChangeAndMovedLinesAreNone() throws {
        let old = try compiled(Self.fleet)
        #expect(RulesetDiff(from: old, to: old)?.isEmpty == true)
        // Where a drone is written (its rules' and elements' source places) is not in the kernel.
        let moved = try compiled("# a comment moves every line\n" + Self.fleet)
        #expect(RulesetDiff(from: old, to: moved)?.isEmpty == true)
    }

    @Test func onlyAReplaceCarriesWhatTheKernelCannotChangeInPlace() throws {
        let old = try compiled(Self.fleet)
        // A set's definition.
        var redefined = old
        let i = try #require(redefined.table.sets.firstIndex { $0.name == KernelLayout.dronesByMAC })
        redefined.table.sets[i].flags.insert(.interval)
        #expect(RulesetDiff(from: old, to: redefined) == nil)
        // Elements listed in a set the resolver fills at run time: which learned ones stay is the replace's to say.
        var listed = old
        let l = try #require(listed.table.sets.firstIndex { $0.name == KernelLayout.learnedV4 })
        listed.table.sets[l].elements = [SetElement(key: .network(try IPNetwork.parse("203.0.113.9")), data: .mark(1),
                                                    timeoutMilliseconds: 60_000)]
        #expect(RulesetDiff(from: old, to: listed) == nil)
        // A base chain's hook.
        var rehooked = old
        let f = try #require(rehooked.table.chains.firstIndex { $0.name == KernelLayout.forwardChain })
        rehooked.table.chains[f].base?.priority = 10
        #expect(RulesetDiff(from: old, to: rehooked) == nil)
    }
}
