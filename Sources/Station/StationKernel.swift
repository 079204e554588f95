import DronewallPolicy
import Netfilter
import NftModel
import KernelLayout

/// What the station does with its table: replace it, and read it back (counters, comment,
/// handle). `NftablesClient` over any transport is the real one; tests can also script it.
public protocol StationKernel: AnyObject {
    /// Replaces `inet dronewall` in one batch (learned elements carried over); returns how many
    /// learned elements were carried.
    func apply(_ ruleset: Ruleset) throws(NetlinkError) -> Int
    /// Sends only `diff`, which turns the table `expected` names into `ruleset`, in one batch;
    /// false, with nothing sent, when the kernel's table is not `expected`.
    func applyChanges(_ diff: RulesetDiff, to ruleset: Ruleset, expecting expected: TableInstance) throws(NetlinkError) -> Bool
    /// Which table instance the kernel holds (handle and policy chain comment); nil when none.
    func instance() throws(NetlinkError) -> TableInstance?
    /// The rules of these chains with their counters (a chain that does not exist has none).
    func ruleCounters(chains: [String]) throws(NetlinkError) -> [ChainStatus]
    /// The table as the kernel holds it now, rules and counters (no element counts); nil when
    /// there is none.
    func tableStatus() throws(NetlinkError) -> TableStatus?
    /// The live elements of one set of the table; nil when it does not exist.
    func elements(set: String) throws(NetlinkError) -> [KernelElement]?
    /// Adds elements to the table's sets in one batch.
    func change(_ changes: [ElementChange], operation: String) throws(NetlinkError)
    /// Deletes the table; false when there was none.
    func flush() throws(NetlinkError) -> Bool
    /// Whether the last apply made the table this socket's own (no other program may change it).
    var ownsTable: Bool { get }
    /// Why the kernel would not let the table be owned (a kernel before 6.9), if it would not.
    var ownershipRefused: NetlinkError? { get }
}

extension NftablesClient: StationKernel {
    public func apply(_ ruleset: Ruleset) throws(NetlinkError) -> Int {
        try apply(ruleset, carryingLearnedElements: true)
    }

    public func applyChanges(_ diff: RulesetDiff, to ruleset: Ruleset, expecting expected: TableInstance) throws(NetlinkError) -> Bool {
        try applyChanges(diff, to: ruleset, expecting: expected, policyChain: KernelLayout.policyChain)
    }

    public func instance() throws(NetlinkError) -> TableInstance? {
        try instance(policyChain: KernelLayout.policyChain)
    }

    public func tableStatus() throws(NetlinkError) -> TableStatus? {
        try status(countingElements: false)
    }

    public var ownsTable: Bool { ownership == .ownedAndPersistent }
}
