import DronewallConfig
import NftModel

/// The kernel half of the station's resolver: every drone's DNS goes to dronewalld, on a port
/// that names the drone, whatever server the drone addressed; the ports take nothing else.
struct DNSRedirect {
    var sets: [NamedSet] = []
    var chains: [Chain] = []

    /// `drones`: (drone, its index in the config, its identities) for drones with a policy.
    init(station: StationConfig, drones: [(DroneConfig, Int, uids: [UInt32])], droneInterfaces: [String],
         _ diags: inout Diagnostics) {
        let base = station.dnsPortBase
        if Int(base) + KernelLayout.dnsPortSlots > 65_535 {
            diags.error("dns-port \(base) leaves no room for the drones' resolver ports (it needs the \(KernelLayout.dnsPortSlots) "
                        + "ports above it; at most \(65_535 - KernelLayout.dnsPortSlots))", at: station.location, length: 7)
            return
        }
        let portOf = KernelLayout.dnsPorts(base: base, drones: drones.map(\.0.name))
        var byMAC: [SetElement] = [], byV4: [SetElement] = [], byV6: [SetElement] = []
        var byIface: [SetElement] = [], byUser: [SetElement] = []
        var ports: [SetElement] = []
        func redirect(_ chain: String, port: Int, origin: String?) {
            let p = UInt16(port)
            chains.append(Chain(name: chain, rules: [
                Rule([.equals(.udpDestinationPort, .port(53), negated: false)], [], .redirect(port: p)),
                Rule([.equals(.tcpDestinationPort, .port(53), negated: false)], [], .redirect(port: p)),
            ], origin: origin))
            ports.append(SetElement(key: .port(p), origin: origin))
        }
        for (drone, _, uids) in drones {
            let chain = KernelLayout.dnsDroneChain(drone.name)
            let go = Value.verdict(.goto(chain))
            redirect(chain, port: portOf[drone.name]!, origin: drone.location.description)
            for m in drone.macs { byMAC.append(SetElement(key: .ether(m.value.bytes), data: go)) }
            for a in drone.addresses {
                (a.value.isIPv4 ? { byV4.append($0) } : { byV6.append($0) })(SetElement(key: .network(a.value), data: go))
            }
            for i in drone.interfaces { byIface.append(SetElement(key: .interfaceName(i.value), data: go)) }
            for u in uids { byUser.append(SetElement(key: .uid(u), data: go)) }
        }
        if !droneInterfaces.isEmpty {
            redirect(KernelLayout.dnsUnknownChain, port: Int(base), origin: station.location?.description)
        }
        sets = [
            NamedSet(name: KernelLayout.dnsByInterface, keyType: .interfaceName, dataType: .verdict, elements: byIface),
            NamedSet(name: KernelLayout.dnsByMAC, keyType: .etherAddress, dataType: .verdict, elements: byMAC),
            NamedSet(name: KernelLayout.dnsByIPv4, keyType: .ipv4Address, dataType: .verdict, flags: .interval, elements: byV4),
            NamedSet(name: KernelLayout.dnsByIPv6, keyType: .ipv6Address, dataType: .verdict, flags: .interval, elements: byV6),
            NamedSet(name: KernelLayout.dnsPortsSet, keyType: .inetService, elements: ports),
        ]
        // Identity as in the forward chain (interface first). Only a connection's first packet
        // passes nat chains, so this costs a few lookups per new connection.
        var pre: [Rule] = [
            Rule([], [], .verdictMap(.inputInterfaceName, map: KernelLayout.dnsByInterface)),
            Rule([], [], .verdictMap(.etherSource, map: KernelLayout.dnsByMAC)),
            Rule([], [], .verdictMap(.ipv4Source, map: KernelLayout.dnsByIPv4)),
            Rule([], [], .verdictMap(.ipv6Source, map: KernelLayout.dnsByIPv6)),
        ]
        if !droneInterfaces.isEmpty {
            pre.append(Rule([.inSet(.inputInterfaceName, set: KernelLayout.droneInterfacesSet, negated: false)], [],
                            .verdict(.goto(KernelLayout.dnsUnknownChain))))
        }
        chains.append(Chain(name: KernelLayout.dnsPreroutingChain,
                            base: BaseChainSpec(type: .nat, hook: .prerouting, priority: -100), rules: pre))
        if !byUser.isEmpty {
            sets.append(NamedSet(name: KernelLayout.dnsByUser, keyType: .uid, dataType: .verdict, elements: byUser))
            chains.append(Chain(name: KernelLayout.dnsOutputChain, base: BaseChainSpec(type: .nat, hook: .output, priority: -100),
                                rules: [Rule([], [], .verdictMap(.socketUID, map: KernelLayout.dnsByUser))]))
        }
        // The resolver answers only what was redirected to it: direct packets to its ports drop.
        let notRedirected = Match.masked(.conntrackStatus, mask: KernelLayout.conntrackStatusDestinationNAT, value: 0,
                                         negated: false)
        chains.append(Chain(name: KernelLayout.dnsInputChain, base: BaseChainSpec(hook: .input), rules: [
            Rule([.inSet(.udpDestinationPort, set: KernelLayout.dnsPortsSet, negated: false), notRedirected], [],
                 .verdict(.drop)),
            Rule([.inSet(.tcpDestinationPort, set: KernelLayout.dnsPortsSet, negated: false), notRedirected], [],
                 .verdict(.drop)),
        ]))
    }
}
