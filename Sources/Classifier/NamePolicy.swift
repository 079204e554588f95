import NetAddress
import DronewallConfig
import DronewallPolicy

/// What the station's resolver does with a name for the drone that asked: the same decisions
/// the drone's kernel chain makes for addresses, taken at the name. Pure.
public struct NamePolicy: Sendable {
    /// One drone's view, found by the resolver port the kernel redirected its query to.
    public struct Asker: Sendable {
        public var drone: String
        public var policy: PolicyKind
        public var blocked: UInt32
        public var wouldBlock: UInt32
        public var allowNames: [String]
        public var blockNames: [String]
    }

    /// What to do with a name: every catalogued answer is learned (so a cached or hard-coded
    /// address is classified too), then answered, or sinkholed for this drone.
    public struct Decision: Sendable, Equatable {
        /// Class bits to learn the answer's addresses with (0: none).
        public var mask: UInt32 = 0
        /// Learn into the asker's allow-host / block-host sets.
        public var allowHost = false
        public var blockHost = false
        /// Answer NXDOMAIN (or the null address) for this reason; nil: answer normally.
        public var sinkhole: String?
        /// monitor: the reason local-data would have sinkholed it.
        public var wouldBlock: String?
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
    /// By resolver port.
    public let askers: [Int: Asker]
    public let unknownPort: Int?

    public init(config: Config, catalogue: Catalogue) {
        index = CatalogueIndex(catalogue)
        resolverNames = Set(catalogue.resolvers.flatMap { $0.names.map(\.value) })
        resolverAddresses = config.station.dnsResolver ? catalogue.resolvers.flatMap { $0.addresses.map(\.value) } : []
        var askers: [Int: Asker] = [:]
        let base = config.station.dnsPortBase
        let withPolicy = config.drones.filter { $0.policy != nil }
        let ports = KernelLayout.dnsPorts(base: base, drones: withPolicy.map(\.name))
        for d in withPolicy {
            askers[ports[d.name]!] = NamePolicy.asker(d.name, d.policy!.value, d)
        }
        if !config.station.droneInterfaces.isEmpty {
            let port = Int(base)
            var unknown = DroneConfig(name: KernelLayout.unknownDroneWord, location: SourceLocation(file: "", line: 0, column: 0))
            unknown.policy = config.station.unknownDevices
            askers[port] = NamePolicy.asker(KernelLayout.unknownDroneWord, config.station.unknownDevicesPolicy, unknown)
            unknownPort = port
        } else {
            unknownPort = nil
        }
        self.askers = askers
    }

    static func asker(_ name: String, _ policy: PolicyKind, _ d: DroneConfig) -> Asker {
        let allow = d.allow.reduce(UInt32(0)) { $0 | $1.value.bit }
        let block = d.block.reduce(UInt32(0)) { $0 | $1.value.bit }
        func names(_ hosts: [Located<HostPattern>]) -> [String] {
            hosts.compactMap { if case let .domain(n) = $0.value { n } else { nil } }
        }
        return Asker(drone: name, policy: policy,
                     blocked: PolicyCompiler.blockedMask(policy, allow: allow, block: block),
                     wouldBlock: PolicyCompiler.wouldBlockMask(policy, allow: allow, block: block),
                     allowNames: names(d.allowHosts), blockNames: names(d.blockHosts))
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
            if covers(resolverNames, n) {
                c.mask |= KernelLayout.resolverBit
                if c.matchedName == nil { c.matchedName = n }
            }
        }
        return c
    }

    /// The decision for `asker` about a chain of names. `inherited`: classes the names carry
    /// from an earlier answer that led to them (a CNAME or SVCB target of a catalogued name).
    public func decide(_ names: [String], for asker: Asker, inherited: UInt32 = 0) -> Decision {
        var c = classify(names)
        c.mask |= inherited
        var d = Decision(mask: c.mask)
        d.blockHost = names.contains { covers(asker.blockNames, $0) }
        d.allowHost = !d.blockHost && names.contains { covers(asker.allowNames, $0) }
        if d.blockHost {
            d.sinkhole = KernelLayout.reasonHost
        } else if d.allowHost {
            // allow-host beats categories, as in the drone chain.
        } else if c.mask & KernelLayout.resolverBit != 0 {
            if asker.policy == .monitor { d.wouldBlock = KernelLayout.reasonDNSBypass } else {
                d.sinkhole = KernelLayout.reasonDNSBypass
            }
        } else if let first = Category.from(mask: c.mask & asker.blocked).first {
            d.sinkhole = first.rawValue
        } else {
            d.wouldBlock = Category.from(mask: c.mask & asker.wouldBlock).first?.rawValue
        }
        return d
    }

    /// True when `name` is one of `list` or below one.
    func covers<S: Sequence<String>>(_ list: S, _ name: String) -> Bool {
        var rest = Substring(name)
        let set = list as? Set<String>
        while !rest.isEmpty {
            if let set { if set.contains(String(rest)) { return true } } else if list.contains(String(rest)) { return true }
            guard let dot = rest.firstIndex(of: ".") else { return false }
            rest = rest[rest.index(after: dot)...]
        }
        return false
    }
}
