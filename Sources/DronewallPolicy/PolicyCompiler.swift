import DronewallConfig
import NftModel

/// Compiles a validated config and the catalogue into the ruleset of table `inet dronewall`.
///
/// Pure: the only outside knowledge, user names, comes in through `resolveUser`.
/// Per-packet work in the result is set/map lookups plus a fixed number of rules per
/// drone (one per category at most), never a list that grows with drones or endpoints.
public struct PolicyCompiler {
    public typealias UserResolver = @Sendable (String) -> UInt32?

    let config: Config
    let catalogue: Catalogue
    let index: CatalogueIndex
    let resolveUser: UserResolver

    public init(config: Config, catalogue: Catalogue, resolveUser: @escaping UserResolver) {
        self.config = config
        self.catalogue = catalogue
        self.index = CatalogueIndex(catalogue)
        self.resolveUser = resolveUser
    }

    /// The ruleset, or nil with errors in the diagnostics. Warnings come either way.
    /// Pass the diagnostics the config was read with, so messages show their source lines.
    public func compile(into diags: inout Diagnostics) -> Ruleset? {
        let errorsBefore = diags.errors.count
        let draft = build(&diags)
        if diags.errors.count > errorsBefore { return nil }
        // The generation is a hash of the policy itself: re-applying the same policy keeps
        // established flows on the fast path, a changed policy re-examines them.
        let gen = PolicyCompiler.generation(of: NftTextRenderer.render(draft))
        var ruleset = PolicyCompiler.stamp(draft, generation: gen)
        ruleset.table.comment = KernelLayout.tableComment(generation: gen, catalogue: catalogue.versionLabel)
        return ruleset
    }

    /// Writes the generation into the rules built with generation 0: the fast-path match
    /// of the base chains and the mark set by `accept_flow`.
    static func stamp(_ ruleset: Ruleset, generation gen: UInt32) -> Ruleset {
        var r = ruleset
        for c in r.table.chains.indices {
            for i in r.table.chains[c].rules.indices {
                var rule = r.table.chains[c].rules[i]
                rule.matches = rule.matches.map { m in
                    if case let .masked(.conntrackMark, mask, 0, negated) = m, mask == KernelLayout.generationMask {
                        return .masked(.conntrackMark, mask: mask, value: gen, negated: negated)
                    }
                    return m
                }
                rule.statements = rule.statements.map { s in
                    s == .setConntrackMark(.orBits(0)) ? .setConntrackMark(.orBits(gen)) : s
                }
                r.table.chains[c].rules[i] = rule
            }
        }
        return r
    }

    static func generation(of text: String) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for b in text.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return (h % 0xffff + 1) << 16
    }

    // MARK: building

    /// The ruleset with generation 0; `compile` stamps the real one in.
    func build(_ diags: inout Diagnostics) -> Ruleset {
        let gen: UInt32 = 0
        var sets: [NamedSet] = []
        var droneChains: [Chain] = []
        let station = config.station
        let logGroup = station.logGroup

        // Identity maps: one lookup per identity kind leads straight to the drone's chain.
        var byMAC: [SetElement] = [], byV4: [SetElement] = [], byV6: [SetElement] = []
        var byIface: [SetElement] = [], byUser: [SetElement] = []
        var droneIfaces = station.droneInterfaces.map(\.value)  // the drone LAN (isolate reaches it)
        var seenUIDs: [UInt32: String] = [:]
        var anyUserDrone = false
        var dnsDrones: [(DroneConfig, Int, uids: [UInt32])] = []

        for (index, drone) in config.drones.enumerated() {
            guard let policy = drone.policy?.value else { continue }
            var uids: [UInt32] = []
            let chainName = KernelLayout.droneChain(drone.name)
            let go = Value.verdict(.goto(chainName))
            for m in drone.macs { byMAC.append(SetElement(key: .ether(m.value.bytes), data: go, origin: m.location.description)) }
            for a in drone.addresses {
                let el = SetElement(key: .network(a.value), data: go, origin: a.location.description)
                if a.value.isIPv4 { byV4.append(el) } else { byV6.append(el) }
            }
            for i in drone.interfaces {
                byIface.append(SetElement(key: .interfaceName(i.value), data: go, origin: i.location.description))
                if !droneIfaces.contains(i.value) { droneIfaces.append(i.value) }
            }
            for u in drone.users {
                let uid: UInt32
                switch u.value {
                case let .uid(n): uid = n
                case let .name(n):
                    guard let r = resolveUser(n) else {
                        diags.error("no such user '\(n)' on this station", at: u.location, length: n.count)
                        continue
                    }
                    uid = r
                }
                if let owner = seenUIDs[uid] {
                    if owner != drone.name {
                        diags.error("user \(u.value) (uid \(uid)) is already claimed by drone '\(owner)'",
                                    at: u.location, length: u.value.description.count)
                    }
                    continue
                }
                seenUIDs[uid] = drone.name
                uids.append(uid)
                anyUserDrone = true
                byUser.append(SetElement(key: .uid(uid), data: go, origin: u.location.description))
            }
            let (chain, hostSets) = droneChain(drone, policy: policy, logGroup: logGroup, &diags)
            sets += hostSets
            droneChains.append(chain)
            warnIneffectiveAllows(drone, policy: policy, &diags)
            dnsDrones.append((drone, index, uids))
        }

        if station.unknownDevices != nil && station.droneInterfaces.isEmpty {
            diags.warning("unknown-devices applies only to traffic from drone-interfaces, and none are set",
                          at: station.unknownDevices?.location, length: station.unknownDevicesPolicy.rawValue.count)
        }

        var tableSets: [NamedSet] = []
        if !droneIfaces.isEmpty {
            tableSets.append(NamedSet(name: KernelLayout.droneInterfacesSet, keyType: .interfaceName,
                                      elements: droneIfaces.map { SetElement(key: .interfaceName($0)) }))
        }
        tableSets += [
            NamedSet(name: KernelLayout.dronesByMAC, keyType: .etherAddress, dataType: .verdict, elements: byMAC),
            NamedSet(name: KernelLayout.dronesByIPv4, keyType: .ipv4Address, dataType: .verdict, flags: .interval,
                     elements: byV4),
            NamedSet(name: KernelLayout.dronesByIPv6, keyType: .ipv6Address, dataType: .verdict, flags: .interval,
                     elements: byV6),
            NamedSet(name: KernelLayout.dronesByInterface, keyType: .interfaceName, dataType: .verdict, elements: byIface),
            NamedSet(name: KernelLayout.dronesByUser, keyType: .uid, dataType: .verdict, elements: byUser),
        ]
        tableSets += endpointMaps()
        tableSets += sets

        // Regular chains first: rules that jump to them are added after.
        var chains: [Chain] = [
            Chain(name: KernelLayout.acceptFlowChain, rules: [
                Rule([], [.setConntrackMark(.orBits(gen))], .verdict(.accept)),
            ]),
            Chain(name: KernelLayout.classifyChain, rules: [
                Rule([], [.setConntrackMark(.constant(0))]),
                Rule([], [.setConntrackMark(.lookup(.ipv4Destination, map: KernelLayout.endpointsV4))]),
                Rule([], [.setConntrackMark(.lookup(.ipv4Destination, map: KernelLayout.learnedV4))]),
                Rule([], [.setConntrackMark(.lookup(.ipv6Destination, map: KernelLayout.endpointsV6))]),
                Rule([], [.setConntrackMark(.lookup(.ipv6Destination, map: KernelLayout.learnedV6))]),
            ]),
        ]
        chains += droneChains
        if !station.droneInterfaces.isEmpty {
            var unknown = DroneConfig(name: KernelLayout.unknownDroneWord,
                                      location: station.location ?? SourceLocation(file: "", line: 0, column: 0))
            unknown.policy = station.unknownDevices
            var chain = droneChain(unknown, policy: station.unknownDevicesPolicy, logGroup: logGroup, &diags).0
            chain.name = KernelLayout.unknownDevicesChain
            chains.append(chain)
        }

        let fastPath = Rule([.masked(.conntrackMark, mask: KernelLayout.generationMask, value: gen, negated: false)], [],
                            .verdict(.accept))
        // Identity, strongest first: the interface a packet arrives on cannot be spoofed by the
        // device, a MAC or an address can. Every forwarded packet is looked up (no early return
        // on drone-interfaces), so a drone is filtered whichever link it uses.
        var forward: [Rule] = [
            fastPath,
            Rule([], [], .verdictMap(.inputInterfaceName, map: KernelLayout.dronesByInterface)),
            Rule([], [], .verdictMap(.etherSource, map: KernelLayout.dronesByMAC)),
            Rule([], [], .verdictMap(.ipv4Source, map: KernelLayout.dronesByIPv4)),
            Rule([], [], .verdictMap(.ipv6Source, map: KernelLayout.dronesByIPv6)),
        ]
        if !station.droneInterfaces.isEmpty {
            // What arrives on a drone interface and matched no drone is an unknown device.
            forward.append(Rule([.inSet(.inputInterfaceName, set: KernelLayout.droneInterfacesSet, negated: false)], [],
                                .verdict(.goto(KernelLayout.unknownDevicesChain))))
        }
        chains.append(Chain(name: KernelLayout.forwardChain, base: BaseChainSpec(hook: .forward), rules: forward))
        if anyUserDrone {
            chains.append(Chain(name: KernelLayout.outputChain, base: BaseChainSpec(hook: .output), rules: [
                fastPath,
                Rule([], [], .verdictMap(.socketUID, map: KernelLayout.dronesByUser)),
            ]))
        }
        if station.dnsResolver && (!dnsDrones.isEmpty || !station.droneInterfaces.isEmpty) {
            let dns = DNSRedirect(station: station, drones: dnsDrones, droneInterfaces: station.droneInterfaces.map(\.value),
                                  &diags)
            tableSets += dns.sets
            chains += dns.chains
        }
        return Ruleset(table: Table(name: KernelLayout.tableName, sets: tableSets, chains: chains))
    }

    /// Catalogue networks (flattened so the most specific wins) and the empty learned maps.
    func endpointMaps() -> [NamedSet] {
        // (class bits, origin) per network: vendor networks, then public resolvers' addresses.
        var v4: [(IPNetwork, (UInt32, String))] = [], v6: [(IPNetwork, (UInt32, String))] = []
        func add(_ n: IPNetwork, _ mask: UInt32, _ origin: String) {
            if n.isIPv4 { v4.append((n, (mask, origin))) } else { v6.append((n, (mask, origin))) }
        }
        for e in catalogue.endpoints {
            if case let .network(n) = e.pattern { add(n, e.mask, e.location.description) }
        }
        if config.station.dnsResolver {
            for r in catalogue.resolvers {
                for a in r.addresses { add(a.value, KernelLayout.resolverBit, a.location.description) }
            }
        }
        func elements(_ items: [(IPNetwork, (UInt32, String))]) -> [SetElement] {
            // One entry per network (a resolver listed twice keeps its first place).
            var seen = Set<IPNetwork>()
            let unique = items.filter { seen.insert($0.0).inserted }
            return IntervalFlattening.flatten(unique).map {
                SetElement(key: .network($0.0), data: .mark($0.1.0), origin: $0.1.1)
            }
        }
        return [
            NamedSet(name: KernelLayout.endpointsV4, keyType: .ipv4Address, dataType: .mark, flags: .interval,
                     elements: elements(v4)),
            NamedSet(name: KernelLayout.endpointsV6, keyType: .ipv6Address, dataType: .mark, flags: .interval,
                     elements: elements(v6)),
            NamedSet(name: KernelLayout.learnedV4, keyType: .ipv4Address, dataType: .mark, flags: .timeout),
            NamedSet(name: KernelLayout.learnedV6, keyType: .ipv6Address, dataType: .mark, flags: .timeout),
            .meter(name: KernelLayout.logMeterV4, key: [.ipv4Address, .ipv4Address], size: KernelLayout.logMeterSize,
                   timeoutMilliseconds: KernelLayout.logMeterTimeoutMilliseconds),
            .meter(name: KernelLayout.logMeterV6, key: [.ipv6Address, .ipv6Address], size: KernelLayout.logMeterSize,
                   timeoutMilliseconds: KernelLayout.logMeterTimeoutMilliseconds),
        ]
    }
}
