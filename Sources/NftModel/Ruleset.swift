import SourcePlaces
/// The ruleset IR, in the kernel's vocabulary: tables, chains, sets, maps and rules.
///
/// The compiler produces it; `NftTextRenderer` prints it as nft text and `Netfilter`
/// linearizes it into libnftnl objects. Both read the same values, so what `show`
/// prints is what `apply` sends.

/// Address family of a table. dronewall only uses `inet` (IPv4 and IPv6 in one table).
public enum TableFamily: String, Sendable, Hashable {
    case inet
}

/// One nftables table and everything in it.
public struct Table: Sendable, Hashable {
    public var family: TableFamily
    public var name: String
    /// Sets and maps, in declaration order (they must exist before rules refer to them).
    public var sets: [NamedSet]
    /// Chains in declaration order: regular chains a rule jumps to must be declared first.
    public var chains: [Chain]
    /// Kept in the kernel with the table (nft's `comment`): what was applied, for `status`.
    public var comment: String?

    public init(family: TableFamily = .inet, name: String, sets: [NamedSet] = [], chains: [Chain] = [],
                comment: String? = nil) {
        self.family = family
        self.name = name
        self.comment = comment
        self.sets = sets
        self.chains = chains
    }

    public func set(named name: String) -> NamedSet? { sets.first { $0.name == name } }
    public func chain(named name: String) -> Chain? { chains.first { $0.name == name } }
}

/// A whole compiled ruleset: dronewall owns exactly one table.
public struct Ruleset: Sendable, Hashable {
    public var table: Table
    public init(table: Table) { self.table = table }
}

/// Netfilter hooks dronewall attaches base chains to.
public enum Hook: String, Sendable, Hashable {
    case forward, output, prerouting, input, postrouting
}

/// What a base chain is attached to. Regular chains (reached by jump/goto) have none.
public enum ChainType: String, Sendable, Hashable {
    case filter, nat
}

public struct BaseChainSpec: Sendable, Hashable {
    public var type: ChainType
    public var hook: Hook
    /// Numeric priority; 0 is nft's `filter`.
    public var priority: Int32
    public var policy: ChainPolicy

    public init(type: ChainType = .filter, hook: Hook, priority: Int32 = 0, policy: ChainPolicy = .accept) {
        self.type = type
        self.hook = hook
        self.priority = priority
        self.policy = policy
    }
}

public enum ChainPolicy: String, Sendable, Hashable {
    case accept, drop
}

/// A chain and its rules.
public struct Chain: Sendable, Hashable {
    public var name: String
    public var base: BaseChainSpec?
    public var rules: [Rule]
    /// Where this chain came from (e.g. `dronewall.conf:12:1`), for error reports.
    public var origin: SourceLocation?
    /// Kept in the kernel with the chain (nft's `comment`). Unlike a table's, a chain's comment
    /// can be replaced in a batch that leaves the rest of the table alone (delete and add the
    /// chain), which is why the applied policy is named in one.
    public var comment: String?

    public init(name: String, base: BaseChainSpec? = nil, rules: [Rule] = [], origin: SourceLocation? = nil,
                comment: String? = nil) {
        self.name = name
        self.base = base
        self.rules = rules
        self.origin = origin
        self.comment = comment
    }
}

extension Ruleset {
    /// Address sets with a timeout that no rule fills (not `dynamic`, unlike meters): the station
    /// resolver learns their elements at run time, so an apply carries those elements over.
    public var learnedSets: [NamedSet] {
        table.sets.filter {
            $0.flags.contains(.timeout) && !$0.flags.contains(.dynamic) && $0.keyParts == nil
                && ($0.keyType == .ipv4Address || $0.keyType == .ipv6Address)
        }
    }
}
