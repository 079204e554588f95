import DronewallConfig
import KernelLayout
import NftModel

extension PolicyCompiler {
    /// Counting and rate-limited logging of one reason, one rule per family (the family match
    /// comes first so each counter sees only its packets). No verdict: the caller adds the
    /// drop in a separate rule, so a packet over the log limit is still dropped.
    /// `families`: only those the matches can apply to (a match on an IPv6 field fixes it).
    static func logRules(drone: String, reason: LogReason, verdict: LogVerdict, group: UInt16,
                         matches: [Match], origin: SourceLocation?,
                         families: [NetworkFamily] = [.ipv4, .ipv6]) -> [Rule] {
        let prefix = LogPrefix(drone: drone, reason: reason, verdict: verdict).text
        return families.map { family in
            let (meter, key): (String, [Field]) = family == .ipv4
                ? (KernelLayout.logMeterV4, [.ipv4Source, .ipv4Destination])
                : (KernelLayout.logMeterV6, [.ipv6Source, .ipv6Destination])
            return Rule([.family(family)] + matches,
                 [.counter, .meterLimit(set: meter, key: key, perSecond: KernelLayout.logRatePerSecond,
                                        burst: KernelLayout.logBurst),
                  .log(prefix: prefix, group: group)], nil, origin: origin)
        }
    }

    /// The chain a drone's new flows go through, and the host sets it refers to.
    /// `hasDroneLAN`: the table has a `drone_interfaces` set (isolate and allowlist reach it).
    func droneChain(_ drone: DronePolicy, logGroup: UInt16, hasDroneLAN: Bool) -> (Chain, [NamedSet]) {
        let name = drone.subject.word
        let policy = drone.kind
        let blocked = drone.blocked.rawValue
        let wouldBlock = drone.wouldBlock.rawValue
        let origin = drone.origin
        func log(_ reason: LogReason, _ matches: [Match], _ verdict: LogVerdict = .blocked) -> [Rule] {
            PolicyCompiler.logRules(drone: name, reason: reason, verdict: verdict, group: logGroup, matches: matches,
                                    origin: origin)
        }
        func drop(_ matches: [Match]) -> Rule { Rule(matches, [], .verdict(.drop), origin: origin) }
        let accept = RuleAction.verdict(.goto(KernelLayout.acceptFlowChain))
        let prefixFor = { (reason: LogReason) in LogPrefix(drone: name, reason: reason).text }

        var rules: [Rule] = []
        var sets: [NamedSet] = []
        // Forwarded traffic must come from the link its source routes back to: a device that
        // borrows another link's drone address gets nothing (and no one-way channel out). The
        // kernel allows this lookup only where packets have an input interface, so chains that
        // local apps reach (user = drones) go without it.
        if !drone.hasUserIdentity {
            rules += log(.reversePath, [.reversePathMissing])
            rules.append(drop([.reversePathMissing]))
            // The drone's MAC or address on a link that is not its own: a copy (two-way otherwise).
            if !drone.links.isEmpty {
                let setName = KernelLayout.droneLinksSet(name)
                sets.append(NamedSet(name: setName, keyType: .interfaceName,
                                     elements: drone.links.map { SetElement(key: .interfaceName($0.value), origin: $0.location) },
                                     origin: origin))
                let elsewhere = Match.inSet(.inputInterfaceName, set: setName, negated: true)
                rules += log(.wrongLink, [elsewhere])
                rules.append(drop([elsewhere]))
            }
        }
        // Packets without conntrack carry no class mark and would pass every category test:
        // drop them (logged) before any category test.
        let untracked = Match.conntrackState([.invalid, .untracked])
        rules += log(.untracked, [untracked])
        rules.append(drop([untracked]))
        // IPv4-mapped destinations never belong on the wire: dropped before any category test
        // (monitor: logged as would-block, like the resolver bypasses).
        let mapped = Match.equals(.ipv6Destination, .network(PolicyCompiler.ipv4MappedPrefix), negated: false)
        rules += PolicyCompiler.logRules(drone: name, reason: .mappedAddress, verdict: policy == .monitor ? .wouldBlock : .blocked,
                                         group: logGroup, matches: [mapped], origin: origin, families: [.ipv6])
        if policy != .monitor { rules.append(drop([mapped])) }
        rules.append(Rule([], [], .verdict(.jump(KernelLayout.classifyChain)), origin: origin))

        // Explicit hosts first: block-host beats everything, allow-host beats categories.
        for kind in [KernelLayout.HostListKind.block, .allow] {
            let hosts = kind == .block ? drone.blockHosts : drone.allowHosts
            let hasNames = !DronePolicy.names(hosts).isEmpty
            for ipv6 in [false, true] {
                let nets = hosts.compactMap { h -> SetElement? in
                    guard case let .network(n) = h.value, n.isIPv4 != ipv6 else { return nil }
                    return SetElement(key: .network(n), origin: h.location)
                }
                var targets: [String] = []
                if !nets.isEmpty {
                    let setName = KernelLayout.hostSet(name, kind, ipv6: ipv6, learned: false)
                    sets.append(NamedSet(name: setName, keyType: ipv6 ? .ipv6Address : .ipv4Address, flags: .interval,
                                         elements: mergeHostNetworks(nets), origin: origin))
                    targets.append(setName)
                }
                if station.dnsResolver && hasNames {
                    // Filled by the resolver with the addresses these names resolve to, per drone.
                    let setName = KernelLayout.hostSet(name, kind, ipv6: ipv6, learned: true)
                    sets.append(NamedSet(name: setName, keyType: ipv6 ? .ipv6Address : .ipv4Address, flags: .timeout,
                                         origin: origin))
                    targets.append(setName)
                }
                for setName in targets {
                    let match = Match.inSet(ipv6 ? .ipv6Destination : .ipv4Destination, set: setName, negated: false)
                    if kind == .block {
                        // The set match fixes the family, so one logging rule (and its meter) suffices.
                        let meter = ipv6 ? KernelLayout.logMeterV6 : KernelLayout.logMeterV4
                        let key: [Field] = ipv6 ? [.ipv6Source, .ipv6Destination] : [.ipv4Source, .ipv4Destination]
                        rules.append(Rule([match], [.counter, .meterLimit(set: meter, key: key,
                                                                           perSecond: KernelLayout.logRatePerSecond,
                                                                           burst: KernelLayout.logBurst),
                                                    .log(prefix: prefixFor(.host), group: logGroup)],
                                          nil, origin: origin))
                        rules.append(drop([match]))
                    } else {
                        rules.append(Rule([match], [], accept, origin: origin))
                    }
                }
            }
        }

        // No way around the station's resolver: DNS over TLS/QUIC and public resolvers (their
        // published addresses, and what their names resolve to) are closed, unless a host list
        // above allowed them. Plain DNS that reaches the forward hook was not redirected (a flow
        // from before the table, which nat no longer sees): closed as well.
        if station.dnsResolver {
            let bypasses: [[Match]] = [
                [.equals(.udpDestinationPort, .port(53), negated: false)],
                [.equals(.tcpDestinationPort, .port(53), negated: false)],
                [.equals(.tcpDestinationPort, .port(KernelLayout.dnsOverTLSPort), negated: false)],
                [.equals(.udpDestinationPort, .port(KernelLayout.dnsOverTLSPort), negated: false)],
                [.masked(.conntrackMark, mask: KernelLayout.resolverBit, value: KernelLayout.resolverBit, negated: false)],
            ]
            for m in bypasses {
                if policy == .monitor {
                    rules += log(.dnsBypass, m, .wouldBlock)
                } else {
                    rules += log(.dnsBypass, m)
                    rules.append(drop(m))
                }
            }
        }

        // isolate and allowlist still let the drone reach the drone LAN and, for apps on
        // the station, loopback: "nothing beyond the station". So does dns-strict, which then
        // closes every destination the station resolver did not answer to this drone.
        let strict = drone.dnsStrict && station.dnsResolver && policy != .isolate
        if policy == .isolate || policy == .allowlist || strict {
            if hasDroneLAN {
                rules.append(Rule([.inSet(.outputInterfaceName, set: KernelLayout.droneInterfacesSet, negated: false)], [],
                                  accept, origin: origin))
            }
            if drone.hasUserIdentity {
                rules.append(Rule([.equals(.outputInterfaceName, .interfaceName("lo"), negated: false)], [], accept,
                                  origin: origin))
            }
        }

        switch policy {
        case .isolate:
            rules += log(.all, [])
            rules.append(drop([]))
        case .localData, .allowlist, .monitor:
            // Logging rules per blocked category (so prefix and counter name it), then one drop.
            // Each also requires that no earlier category matched (`ct mark & (bit|earlier) == bit`),
            // so a packet to a shared host is counted and logged once, under its first category.
            var earlier: UInt32 = 0
            for c in Category.from(mask: blocked) {
                rules += log(.category(c), [.masked(.conntrackMark, mask: c.bit | earlier, value: c.bit, negated: false)])
                earlier |= c.bit
            }
            if blocked != 0 {
                rules.append(drop([.masked(.conntrackMark, mask: blocked, value: 0, negated: true)]))
            }
            if policy == .allowlist {
                let unlisted = Match.masked(.conntrackMark, mask: Category.allBits, value: 0, negated: false)
                rules += log(.unlisted, [unlisted])
                rules.append(drop([unlisted]))
            }
            var earlierWould: UInt32 = 0
            for c in Category.from(mask: wouldBlock) {
                rules += log(.category(c), [.masked(.conntrackMark, mask: c.bit | earlierWould, value: c.bit, negated: false)],
                             .wouldBlock)
                earlierWould |= c.bit
            }
            if strict {
                // Resolved-only, after the categories (so a blocked category is logged as such): the
                // addresses the station resolver answered to this drone, kept TTL + grace (allow-host
                // networks and the drone LAN were accepted above).
                for ipv6 in [false, true] {
                    let setName = KernelLayout.hostSet(name, .resolved, ipv6: ipv6, learned: true)
                    sets.append(NamedSet(name: setName, keyType: ipv6 ? .ipv6Address : .ipv4Address, flags: .timeout,
                                         origin: origin))
                    let unresolved = Match.inSet(ipv6 ? .ipv6Destination : .ipv4Destination, set: setName, negated: true)
                    rules += PolicyCompiler.logRules(drone: name, reason: .unresolved,
                                                     verdict: policy == .monitor ? .wouldBlock : .blocked, group: logGroup,
                                                     matches: [unresolved], origin: origin, families: [ipv6 ? .ipv6 : .ipv4])
                    if policy != .monitor { rules.append(drop([unresolved])) }
                }
            }
            rules.append(Rule([], [], accept, origin: origin))
        }
        let chainName = drone.droneName.map(KernelLayout.droneChain) ?? KernelLayout.unknownDevicesChain
        return (Chain(name: chainName, rules: rules, origin: origin), sets)
    }

    /// Drops networks contained in another of the same list (interval sets reject overlaps).
    func mergeHostNetworks(_ elements: [SetElement]) -> [SetElement] {
        elements.filter { el in
            guard case let .network(n) = el.key else { return true }
            return !elements.contains { other in
                guard case let .network(o) = other.key, o != n else { return false }
                return o.contains(n)
            }
        }.reduce(into: [SetElement]()) { acc, el in if !acc.contains(where: { $0.key == el.key }) { acc.append(el) } }
    }
}
