import NetAddress
import DronewallConfig
import DronewallPolicy
import KernelLayout

/// What the station's resolver does with a name for the drone that asked: the same decisions
/// the drone's kernel chain makes for addresses, taken at the name. Pure.
public struct NamePolicy: Sendable {
    /// What to do with a name: every catalogued answer is learned (so a cached or hard-coded
    /// address is classified too), then answered, or sinkholed for this drone.
    public struct Decision: Sendable, Equatable {
        /// Class bits to learn the answer's addresses with (0: none).
        public var mask: UInt32 = 0
        /// Learn into the asker's allow-host / block-host sets.
        public var allowHost = false
        public var blockHost = false
        /// Answer NXDOMAIN (or the null address) for this reason; nil: answer normally.
        public var sinkhole: LogReason?
        /// monitor: the reason local-data would have sinkholed it.
        public var wouldBlock: LogReason?
        public var learnsAnything: Bool { mask != 0 || allowHost || blockHost }
        public init(mask: UInt32 = 0) { self.mask = mask }
    }

    /// What a name is: catalogue categories (most specific entry), vendor, public resolver.
    public struct Classification: Sendable, Equatable {
        public var mask: UInt32 = 0
        public var vendor: String?
        /// The catalogued name (or resolver name) that decided it, for reports and comments.
        public var matchedName: String?
    }

    let index: CatalogueIndex
    let resolverNames: Set<String>
    let resolverAddresses: [IPNetwork]
    /// The policies of those who ask, by the resolver port the kernel redirects their DNS to.
    public let askers: [Int: DronePolicy]
    public let unknownPort: Int?

    /// The resolver's view of a snapshot: its policies with a resolver port, and the catalogue.
    public init(_ snapshot: PolicySnapshot) {
        self.init(drones: snapshot.drones, catalogue: snapshot.catalogue,
                  resolverAddresses: snapshot.config.station.dnsResolver)
    }

    /// `resolverAddresses`: the public resolvers' addresses are closed for drones (the station
    /// resolver is on), so an answer pointing at them gets their class.
    public init(drones: [DronePolicy], catalogue: Catalogue, resolverAddresses: Bool = true) {
        index = CatalogueIndex(catalogue)
        resolverNames = Set(catalogue.resolvers.flatMap { $0.names.map(\.value) })
        self.resolverAddresses = resolverAddresses ? catalogue.resolvers.flatMap { $0.addresses.map(\.value) } : []
        var askers: [Int: DronePolicy] = [:]
        for d in drones { if let port = d.resolverPort { askers[Int(port)] = d } }
        self.askers = askers
        unknownPort = drones.first { $0.subject == .unknownDevices }?.resolverPort.map(Int.init)
    }

    /// Classes an address has without any name: its catalogue network, a public resolver's address.
    public func addressClasses(_ a: IPNetwork) -> UInt32 {
        (index.match(address: a)?.mask ?? 0)
            | (resolverAddresses.contains { $0.contains(a) } ? KernelLayout.resolverBit : 0)
    }

    /// Classes of a chain of names (the question, then CNAME and SVCB targets): the union.
    public func classify(_ names: [String]) -> Classification {
        var c = Classification()
        for n in names {
            if let e = index.match(domain: n) {
                c.mask |= e.mask
                if c.vendor == nil { c.vendor = e.vendorID; c.matchedName = n }
            }
            if isResolverName(n) {
                c.mask |= KernelLayout.resolverBit
                if c.matchedName == nil { c.matchedName = n }
            }
        }
        return c
    }

    /// The decision for `asker` about a chain of names. `inherited`: classes the names carry
    /// from an earlier answer that led to them (a CNAME or SVCB target of a catalogued name).
    public func decide(_ names: [String], for asker: DronePolicy, inherited: UInt32 = 0) -> Decision {
        var c = classify(names)
        c.mask |= inherited
        var d = Decision(mask: c.mask)
        d.blockHost = names.contains { name in asker.blockHosts.contains { $0.value.covers(name: name) } }
        d.allowHost = !d.blockHost && names.contains { name in asker.allowHosts.contains { $0.value.covers(name: name) } }
        if d.blockHost {
            d.sinkhole = .host
        } else if d.allowHost {
            // allow-host beats categories, as in the drone chain.
        } else if c.mask & KernelLayout.resolverBit != 0 {
            if asker.kind == .monitor { d.wouldBlock = .dnsBypass } else {
                d.sinkhole = .dnsBypass
            }
        } else if let first = Category.from(mask: c.mask & asker.blocked.rawValue).first {
            d.sinkhole = .category(first)
        } else {
            d.wouldBlock = Category.from(mask: c.mask & asker.wouldBlock.rawValue).first.map(LogReason.category)
        }
        return d
    }

    /// Whether a question may be asked upstream at all, decided on the name alone, before
    /// anything leaves the station: nil to forward, else why it is answered locally. A query
    /// name is data (`<data>.attacker.example` tunnels through any resolver that forwards it),
    /// so isolate forwards nothing and allowlist only the names it allows.
    public func beforeForwarding(_ name: String, for asker: DronePolicy) -> LogReason? {
        switch asker.kind {
        case .isolate:
            return .all
        case .allowlist:
            if asker.blockHosts.contains(where: { $0.value.covers(name: name) }) { return .host }
            if asker.allowHosts.contains(where: { $0.value.covers(name: name) }) { return nil }
            // A catalogued name whose categories are all allowed (a shared host is allowed only
            // when everything it serves is).
            if let e = index.match(domain: name), e.mask & asker.blocked.rawValue == 0 { return nil }
            return .unlisted
        case .localData, .monitor:
            return nil
        }
    }

    /// True when `name` is one of the public resolvers' names or below one.
    func isResolverName(_ name: String) -> Bool {
        HostPattern.domainAndParents(name).contains { resolverNames.contains(String($0)) }
    }
}
