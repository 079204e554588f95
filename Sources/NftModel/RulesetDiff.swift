/// What turns a table the kernel holds (`old`, exactly as it was applied) into `new` without
/// replacing it: the chains whose rules change, the elements that come and go, the sets and
/// chains added or removed. Sent as one batch, the kernel commits it all or nothing, like a
/// replace; unlike a replace, everything it does not name stays as it is: learned addresses,
/// counters and the conntrack state of untouched rules, and the cost is that of the change.
///
/// `RulesetDiff(from:to:)` is nil where the two differ in a way only a replace can carry: the
/// table itself, a set's definition (type, flags, size, timeout), a base chain's hook, or the
/// elements a ruleset lists in a set the resolver fills at run time (`learnedSets`).
public struct RulesetDiff: Sendable, Hashable {
    /// Elements of one set to add or delete.
    public struct Elements: Sendable, Hashable {
        public var set: NamedSet
        public var elements: [SetElement]
    }

    /// Chains whose rules are removed first (those that change and those that go), which
    /// also drops their references to sets and chains that go.
    public var flushedChains: [String] = []
    public var deletedElements: [Elements] = []
    /// Chains and sets that go, after their rules and the map elements that jump to them.
    public var deletedChains: [String] = []
    public var deletedSets: [String] = []
    /// New chains, created empty before anything can refer to them (their rules come last).
    public var addedChains: [Chain] = []
    /// New sets with their elements.
    public var addedSets: [NamedSet] = []
    public var addedElements: [Elements] = []
    /// Chains whose rules are added, in the new ruleset's order: the new ones and the flushed
    /// ones that stay.
    public var filledChains: [Chain] = []

    public var isEmpty: Bool {
        flushedChains.isEmpty && deletedElements.isEmpty && deletedChains.isEmpty && deletedSets.isEmpty
            && addedChains.isEmpty && addedSets.isEmpty && addedElements.isEmpty && filledChains.isEmpty
    }

    /// How many objects the change touches (chains, sets, rules, elements): what `apply` reports.
    public var size: Int {
        flushedChains.count + deletedChains.count + deletedSets.count + addedChains.count
            + deletedElements.reduce(0) { $0 + $1.elements.count } + addedElements.reduce(0) { $0 + $1.elements.count }
            + addedSets.reduce(0) { $0 + 1 + $1.elements.count } + filledChains.reduce(0) { $0 + $1.rules.count }
    }

    public init?(from old: Ruleset, to new: Ruleset) {
        let (o, n) = (old.table, new.table)
        guard o.family == n.family, o.name == n.name, o.comment == n.comment else { return nil }
        let learned = Set(old.learnedSets.map(\.name)).union(new.learnedSets.map(\.name))

        var oldSets = Counterparts(o.sets.map(\.name))
        let newSetNames = Set(n.sets.map(\.name))
        for (i, set) in n.sets.enumerated() {
            guard let before = oldSets.index(of: set.name, at: i).map({ o.sets[$0] }) else {
                addedSets.append(set)
                continue
            }
            guard RulesetDiff.sameDefinition(before, set) else { return nil }
            // The common case, cheaply: the same catalogue compiles to the same elements.
            if before.elements == set.elements { continue }
            let (gone, come) = RulesetDiff.elementChanges(before.elements, set.elements)
            if gone.isEmpty && come.isEmpty { continue }
            // The resolver's sets hold what it learned besides what the ruleset lists: only a
            // replace (which carries the learned ones over) can say which of them stay.
            guard !learned.contains(set.name) else { return nil }
            if !gone.isEmpty { deletedElements.append(Elements(set: set, elements: gone)) }
            if !come.isEmpty { addedElements.append(Elements(set: set, elements: come)) }
        }
        deletedSets = o.sets.map(\.name).filter { !newSetNames.contains($0) }

        var oldChains = Counterparts(o.chains.map(\.name))
        let newChainNames = Set(n.chains.map(\.name))
        for (i, chain) in n.chains.enumerated() {
            guard let before = oldChains.index(of: chain.name, at: i).map({ o.chains[$0] }) else {
                addedChains.append(Chain(name: chain.name, base: chain.base, origin: chain.origin, comment: chain.comment))
                if !chain.rules.isEmpty { filledChains.append(chain) }
                continue
            }
            guard before.base == chain.base else { return nil }
            if before.comment != chain.comment {
                // A chain's comment is set when it is created: delete it and create it again.
                // Only a chain no rule or map refers to can go, which is what the policy chain is.
                if !before.rules.isEmpty { flushedChains.append(chain.name) }
                deletedChains.append(chain.name)
                addedChains.append(Chain(name: chain.name, base: chain.base, origin: chain.origin, comment: chain.comment))
                if !chain.rules.isEmpty { filledChains.append(chain) }
                continue
            }
            if before.rules != chain.rules && before.rules.map(RulesetDiff.placeless) != chain.rules.map(RulesetDiff.placeless) {
                if !before.rules.isEmpty { flushedChains.append(chain.name) }
                if !chain.rules.isEmpty { filledChains.append(chain) }
            }
        }
        for chain in o.chains where !newChainNames.contains(chain.name) {
            if !chain.rules.isEmpty { flushedChains.append(chain.name) }
            deletedChains.append(chain.name)
        }
    }

    /// Everything but the elements (and where the set was declared), field by field: copying
    /// thousands of sets to blank their elements out cost more than the comparison. (A field
    /// added to `NamedSet` belongs here.)
    static func sameDefinition(_ a: NamedSet, _ b: NamedSet) -> Bool {
        a.name == b.name && a.keyType == b.keyType && a.keyParts == b.keyParts && a.dataType == b.dataType
            && a.flags == b.flags && a.timeoutMilliseconds == b.timeoutMilliseconds && a.size == b.size
    }

    /// Where each name of the old table's chains (or sets) is. A compiler that emits the same
    /// objects in the same order (the common case) is answered by position, without hashing.
    struct Counterparts {
        let names: [String]
        private var byName: [String: Int]?

        init(_ names: [String]) {
            self.names = names
        }

        /// The old position of `name`, which the new table has at `position`; the first name
        /// out of place has every name hashed, once.
        mutating func index(of name: String, at position: Int) -> Int? {
            if position < names.count, names[position] == name { return position }
            if byName == nil {
                byName = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            }
            return byName![name]
        }
    }

    /// The elements only `old` has (to delete, by key) and those only `new` has (to add). An
    /// element whose value, timeout or comment changed is in both lists. Places are ignored:
    /// the kernel does not hold them.
    static func elementChanges(_ old: [SetElement], _ new: [SetElement]) -> (gone: [SetElement], come: [SetElement]) {
        let oldSet = Set(old.map(placeless)), newSet = Set(new.map(placeless))
        guard oldSet != newSet else { return ([], []) }
        return (old.filter { !newSet.contains(placeless($0)) }, new.filter { !oldSet.contains(placeless($0)) })
    }

    static func placeless(_ e: SetElement) -> SetElement {
        var e = e
        e.origin = nil
        return e
    }

    static func placeless(_ r: Rule) -> Rule {
        var r = r
        r.origin = nil
        return r
    }
}
