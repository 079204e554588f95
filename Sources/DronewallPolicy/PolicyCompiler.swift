import Synchronization
import DronewallConfig
import NftModel
import KernelLayout

/// Compiles validated policies and the catalogue into the ruleset of table `inet dronewall`.
///
/// Pure and total: every check happened in `PolicyModel.validate`. Per-packet work in the result
/// is set/map lookups plus a fixed number of rules per drone (one per category at most), never
/// a list that grows with drones or endpoints.
public struct PolicyCompiler {
    let station: StationConfig
    let catalogue: Catalogue

    public init(station: StationConfig, catalogue: Catalogue) {
        self.station = station
        self.catalogue = catalogue
    }

    /// The ruleset for `drones` (as `PolicyModel.validate` made them), stamped with `generation`:
    /// the fast-path match of the base chains and the mark `accept_flow` sets carry it, so a
    /// re-apply of the same policy keeps established flows, a changed one re-examines them.
    /// `fingerprint` goes into the table's comment beside the generation.
    public func compile(_ drones: [DronePolicy], generation gen: UInt32, fingerprint: UInt64) -> Ruleset {
        var sets: [NamedSet] = []
        var droneChains: [Chain] = []
        let logGroup = station.logGroup

        var droneIfaces = station.droneInterfaces.map(\.value)  // the drone LAN (isolate reaches it)
        for drone in drones {
            for i in drone.interfaces where !droneIfaces.contains(i.value) { droneIfaces.append(i.value) }
        }
        var kept = droneChainCache.withLock { $0 }
        var made: [DroneChainInputs: (Chain, [NamedSet])] = [:]
        for drone in drones {
            let inputs = DroneChainInputs(drone: drone, logGroup: logGroup, hasDroneLAN: !droneIfaces.isEmpty,
                                          dnsResolver: station.dnsResolver)
            let (chain, hostSets) = kept.removeValue(forKey: inputs)
                ?? droneChain(drone, logGroup: logGroup, hasDroneLAN: !droneIfaces.isEmpty)
            made[inputs] = (chain, hostSets)
            sets += hostSets
            droneChains.append(chain)
        }
        droneChainCache.withLock { $0 = made }
        // Identity maps: one lookup per identity kind leads straight to the drone's chain.
        let ids = IdentityMaps(drones) { $0.droneName.map(KernelLayout.droneChain) }

        var tableSets: [NamedSet] = []
        if !droneIfaces.isEmpty {
            tableSets.append(NamedSet(name: KernelLayout.droneInterfacesSet, keyType: .interfaceName,
                                      elements: droneIfaces.map { SetElement(key: .interfaceName($0)) }))
        }
        if !station.uplinkInterfaces.isEmpty {
            // Loopback too: the station's own traffic passes prerouting on lo.
            let own = station.uplinkInterfaces.map { SetElement(key: .interfaceName($0.value), origin: $0.location) }
                + [SetElement(key: .interfaceName("lo"))]
            tableSets.append(NamedSet(name: KernelLayout.stationInterfacesSet, keyType: .interfaceName, elements: own))
        }
        tableSets += [
            NamedSet(name: KernelLayout.dronesByMAC, keyType: .etherAddress, dataType: .verdict, elements: ids.mac),
            NamedSet(name: KernelLayout.dronesByIPv4, keyType: .ipv4Address, dataType: .verdict, flags: .interval,
                     elements: ids.ipv4),
            NamedSet(name: KernelLayout.dronesByIPv6, keyType: .ipv6Address, dataType: .verdict, flags: .interval,
                     elements: ids.ipv6),
            NamedSet(name: KernelLayout.dronesByInterface, keyType: .interfaceName, dataType: .verdict, elements: ids.interface),
            NamedSet(name: KernelLayout.dronesByUser, keyType: .uid, dataType: .verdict, elements: ids.user),
        ]
        tableSets += endpointMaps()
        tableSets += sets

        let policy = PolicyComment(generation: gen, policy: fingerprint, catalogue: catalogue.versionLabel).text
        // Regular chains first: rules that jump to them are added after. The policy chain has no
        // rules: its comment names what is applied (see `KernelLayout.policyChain`).
        var chains: [Chain] = [
            Chain(name: KernelLayout.policyChain, comment: policy),
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
        if let fromUnknown = unknownDevicesMatch {
            // What arrives on drone territory and matched no drone is an unknown device.
            forward.append(Rule([fromUnknown], [], .verdict(.goto(KernelLayout.unknownDevicesChain))))
        }
        chains.append(Chain(name: KernelLayout.forwardChain, base: BaseChainSpec(hook: .forward), rules: forward))
        if !ids.user.isEmpty {
            chains.append(Chain(name: KernelLayout.outputChain, base: BaseChainSpec(hook: .output), rules: [
                fastPath,
                Rule([], [], .verdictMap(.socketUID, map: KernelLayout.dronesByUser)),
            ]))
        }
        if station.dnsResolver && !drones.isEmpty {
            let dns = DNSRedirect(drones: drones, fromUnknownDevices: unknownDevicesMatch)
            tableSets += dns.sets
            chains += dns.chains
        }
        return Ruleset(table: Table(name: KernelLayout.tableName, sets: tableSets, chains: chains))
    }

    /// Where unknown devices come from: every link but the station's own when `uplink-interfaces`
    /// is set, else the drone interfaces; nil when neither is set.
    var unknownDevicesMatch: Match? {
        if !station.uplinkInterfaces.isEmpty {
            return .inSet(.inputInterfaceName, set: KernelLayout.stationInterfacesSet, negated: true)
        }
        if !station.droneInterfaces.isEmpty {
            return .inSet(.inputInterfaceName, set: KernelLayout.droneInterfacesSet, negated: false)
        }
        return nil
    }

    /// IPv4-mapped IPv6 addresses, ::ffff:0:0/96 (RFC 4291 2.5.5.2).
    static let ipv4MappedPrefix = IPNetwork(bytes: [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 0, 0, 0, 0],
                                            prefixLength: 96)

    /// RFC 6052's well-known NAT64 prefix, 64:ff9b::/96.
    static let wellKnownNAT64Prefix = IPNetwork(bytes: [0x00, 0x64, 0xff, 0x9b] + [UInt8](repeating: 0, count: 12),
                                                prefixLength: 96)

    /// Catalogue networks (flattened so the most specific wins) and the empty learned maps.
    func endpointMaps() -> [NamedSet] {
        // (class bits, origin) per network: vendor networks, then public resolvers' addresses.
        var inputs = EndpointMapInputs(nat64: [PolicyCompiler.wellKnownNAT64Prefix] + station.nat64Prefixes.map(\.value))
        for e in catalogue.endpoints {
            if case let .network(n) = e.pattern { inputs.networks.append(.init(network: n, mask: e.mask, origin: e.location)) }
        }
        if station.dnsResolver {
            for r in catalogue.resolvers {
                for a in r.addresses {
                    inputs.networks.append(.init(network: a.value, mask: KernelLayout.resolverBit, origin: a.location))
                }
            }
        }
        if let cached = endpointMapCache.withLock({ $0 }), cached.inputs == inputs { return cached.maps }
        let maps = PolicyCompiler.endpointMaps(inputs)
        endpointMapCache.withLock { $0 = (inputs, maps) }
        return maps
    }

    static func endpointMaps(_ inputs: EndpointMapInputs) -> [NamedSet] {
        var v4: [(IPNetwork, (UInt32, SourceLocation))] = [], v6: [(IPNetwork, (UInt32, SourceLocation))] = []
        // Behind an IPv6-only uplink (464XLAT, DNS64) an IPv4 endpoint is reached at its NAT64
        // image, so every IPv4 entry is listed under each NAT64 prefix too.
        for e in inputs.networks {
            guard e.network.isIPv4 else { v6.append((e.network, (e.mask, e.origin))); continue }
            v4.append((e.network, (e.mask, e.origin)))
            for prefix in inputs.nat64 {
                if let image = e.network.nat64Image(under: prefix) { v6.append((image, (e.mask, e.origin))) }
            }
        }
        func elements(_ items: [(IPNetwork, (UInt32, SourceLocation))]) -> [SetElement] {
            // One entry per network (a resolver listed twice keeps its first place).
            var seen = Set<IPNetwork>(minimumCapacity: items.count)
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

/// What the catalogue's maps are made from: its networks with their class bits and places, in
/// catalogue order, and the NAT64 prefixes their IPv4 images go under.
struct EndpointMapInputs: Equatable, Sendable {
    struct Network: Equatable, Sendable {
        var network: IPNetwork
        var mask: UInt32
        var origin: SourceLocation
    }
    var networks: [Network] = []
    var nat64: [IPNetwork]
}

/// The catalogue's maps of the last compile and what they were made from. An apply of a changed
/// policy over the same catalogue gets the same arrays back: no flattening again, and the diff of
/// an incremental apply sees them unchanged at once (arrays compare their storage first) instead
/// of element by element (100k networks: tens of milliseconds on the path to enforcement).
private let endpointMapCache = Mutex<(inputs: EndpointMapInputs, maps: [NamedSet])?>(nil)

/// What one drone's chain and host sets are made from (`droneChain` reads nothing else).
struct DroneChainInputs: Hashable, Sendable {
    var drone: DronePolicy
    var logGroup: UInt16
    var hasDroneLAN: Bool
    var dnsResolver: Bool
}

/// The drones' chains of the last compile, by what they were made from: a change to one drone in
/// a fleet leaves the others' rules the same arrays, which the diff of an incremental apply sees
/// as unchanged at once instead of rule by rule (1000 drones: some 70k rules).
private let droneChainCache = Mutex<[DroneChainInputs: (Chain, [NamedSet])]>([:])
