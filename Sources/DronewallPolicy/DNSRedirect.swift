import DronewallConfig
import NftModel
import KernelLayout

/// The kernel half of the station's resolver: every drone's DNS goes to dronewalld, on a port
/// that names the drone, whatever server the drone addressed; the ports take nothing else.
struct DNSRedirect {
    var sets: [NamedSet] = []
    var chains: [Chain] = []

    /// `drones`: every subject with its resolver port (the unknown devices last, as the model
    /// lists them); `fromUnknownDevices`: where unknown devices come from, as the forward chain says.
    init(drones: [DronePolicy], fromUnknownDevices: Match?) {
        var ports: [SetElement] = []
        for drone in drones {
            guard let port = drone.resolverPort else { continue }
            let origin = drone.origin
            let chain = drone.droneName.map(KernelLayout.dnsDroneChain) ?? KernelLayout.dnsUnknownChain
            // The label marks the connection as redirected by us (see the input guard below).
            let ours: [Statement] = [.setConntrackLabel(KernelLayout.dnsRedirectLabel)]
            chains.append(Chain(name: chain, rules: [
                Rule([.equals(.udpDestinationPort, .port(53), negated: false)], ours, .redirect(port: port)),
                Rule([.equals(.tcpDestinationPort, .port(53), negated: false)], ours, .redirect(port: port)),
            ], origin: origin))
            ports.append(SetElement(key: .port(port), origin: origin))
        }
        // Identity maps as in the forward chain; the unknown devices are what matches none.
        let ids = IdentityMaps(drones) { d in
            d.resolverPort == nil ? nil : d.droneName.map(KernelLayout.dnsDroneChain) ?? KernelLayout.dnsUnknownChain
        }
        sets = [
            NamedSet(name: KernelLayout.dnsByInterface, keyType: .interfaceName, dataType: .verdict, elements: ids.interface),
            NamedSet(name: KernelLayout.dnsByMAC, keyType: .etherAddress, dataType: .verdict, elements: ids.mac),
            NamedSet(name: KernelLayout.dnsByIPv4, keyType: .ipv4Address, dataType: .verdict, flags: .interval, elements: ids.ipv4),
            NamedSet(name: KernelLayout.dnsByIPv6, keyType: .ipv6Address, dataType: .verdict, flags: .interval, elements: ids.ipv6),
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
        if let fromUnknownDevices {
            pre.append(Rule([fromUnknownDevices], [], .verdict(.goto(KernelLayout.dnsUnknownChain))))
        }
        chains.append(Chain(name: KernelLayout.dnsPreroutingChain,
                            base: BaseChainSpec(type: .nat, hook: .prerouting, priority: -100), rules: pre))
        if !ids.user.isEmpty {
            sets.append(NamedSet(name: KernelLayout.dnsByUser, keyType: .uid, dataType: .verdict, elements: ids.user))
            chains.append(Chain(name: KernelLayout.dnsOutputChain, base: BaseChainSpec(type: .nat, hook: .output, priority: -100),
                                rules: [Rule([], [], .verdictMap(.socketUID, map: KernelLayout.dnsByUser))]))
        }
        // The resolver answers only what our redirect sent it: direct packets to its ports, and
        // packets another table's DNAT (a port forward) sent there, lack our label and drop.
        let notRedirected = Match.conntrackLabel(KernelLayout.dnsRedirectLabel, negated: true)
        chains.append(Chain(name: KernelLayout.dnsInputChain, base: BaseChainSpec(hook: .input), rules: [
            Rule([.inSet(.udpDestinationPort, set: KernelLayout.dnsPortsSet, negated: false), notRedirected], [],
                 .verdict(.drop)),
            Rule([.inSet(.tcpDestinationPort, set: KernelLayout.dnsPortsSet, negated: false), notRedirected], [],
                 .verdict(.drop)),
        ]))
    }
}
