import Foundation
import Testing
import DronewallConfig
@testable import DronewallPolicy
import NftModel
import KernelLayout

@Suite struct CatalogueMatchingTests {
    let index: CatalogueIndex = {
        let (c, _) = CatalogueReader().read(directories: [goldenDirectory])
        return CatalogueIndex(c)
    }()

    @Test func matchesOnLabelBoundariesOnly() {
        #expect(index.match(domain: "acme.example")?.pattern.description == "acme.example")
        #expect(index.match(domain: "a.b.acme.example")?.pattern.description == "acme.example")
        #expect(index.match(domain: "notacme.example") == nil)
        #expect(index.match(domain: "acme.example.org") == nil)
        #expect(index.match(domain: "ACME.Example.")?.pattern.description == "acme.example")
    }

    @Test func mostSpecificWins() {
        #expect(index.match(domain: "x.logs.acme.example")?.categories == [.flightLogs])
        #expect(index.match(domain: "sync.acme.example")?.categories == [.flightLogs, .telemetry, .firmware])
        #expect(index.match(query: "203.0.113.17")?.categories == [.geofence])
        #expect(index.match(query: "203.0.113.20")?.categories == [.flightLogs, .telemetry, .firmware])
        #expect(index.match(query: "203.0.113.200")?.categories == [.other])
        #expect(index.match(query: "198.51.100.1") == nil)
    }

    @Test func nestedNetworksFlattenToDisjointPrefixesWhereTheInnerWins() throws {
        let outer = try IPNetwork.parse("203.0.113.0/24"), inner = try IPNetwork.parse("203.0.113.16/28")
        let flat = IntervalFlattening.flatten([(outer, "outer"), (inner, "inner")])
        for (i, a) in flat.enumerated() { for b in flat[(i + 1)...] { #expect(!a.0.overlaps(b.0)) } }
        #expect(flat.filter { $0.1 == "inner" }.map(\.0) == [inner])
        let covered = flat.reduce(0) { $0 + (1 << (32 - $1.0.prefixLength)) }
        #expect(covered == 256)
    }
}

@Suite struct CompilerTests {
    func chain(_ r: Ruleset, _ name: String) throws -> [String] {
        try #require(r.table.chain(named: name)).rules.map(NftTextRenderer.render(rule:))
    }

    @Test func localDataBlocksEveryCategoryButTheAllowedOnes() throws {
        let (r, d) = compile(text: "[drone a]\nmac = 02:00:00:00:00:01\npolicy = local-data\nallow = firmware maps\n")
        let rules = try chain(try #require(r, "\(d.rendered)"), "drone_a")
        // The reverse-path check first, then untracked packets (logged, dropped), then IPv4-mapped
        // destinations (logged, dropped), then two logging rules (IPv4, IPv6) per blocked category
        // and one drop for all of them.
        #expect(rules[0].hasPrefix("meta nfproto ipv4 fib saddr . iif oif missing counter") && rules[0].contains("cat=reverse-path"))
        #expect(rules[2] == "fib saddr . iif oif missing drop")
        #expect(rules[5] == "ct state invalid,untracked drop")
        #expect(rules[6].hasPrefix("meta nfproto ipv6 ip6 daddr ::ffff:0:0/96 counter") && rules[6].contains("cat=mapped-address"))
        #expect(rules[7] == "ip6 daddr ::ffff:0:0/96 drop")
        #expect(rules[8] == "jump classify")
        let logging = rules.dropFirst(9).filter { $0.contains(" log prefix") && !$0.contains("cat=dns-bypass") }
        #expect(logging.count == 2 * (Category.allCases.count - 2))
        #expect(!rules.contains { $0.contains("cat=firmware") || $0.contains("cat=maps") })
        #expect(rules.filter { $0.hasSuffix("drop") }.last == "ct mark & 0x000007b7 != 0x00000000 drop")
        #expect(logging.first == "meta nfproto ipv4 ct mark & 0x00000001 == 0x00000001 counter update @log_meter_v4 "
                + "{ ip saddr . ip daddr limit rate 10/second burst 20 packets } log prefix \"dw drone=a cat=flight-logs \" group 7140")
        #expect(rules.last == "goto accept_flow")
    }

    @Test func aPacketIsLoggedUnderOneCategoryOnly() throws {
        let (r, _) = compile(text: "[drone a]\nmac = 02:00:00:00:00:01\npolicy = local-data\nallow = firmware\n")
        let v4 = try chain(try #require(r), "drone_a").filter {
            $0.hasPrefix("meta nfproto ipv4 ct mark") && !$0.contains("cat=dns-bypass")
        }
        // telemetry (bit 1) is logged only when flight-logs (bit 0) is not set, and so on.
        #expect(v4.prefix(3).map { String($0.prefix(53)) } == [
            "meta nfproto ipv4 ct mark & 0x00000001 == 0x00000001 ",
            "meta nfproto ipv4 ct mark & 0x00000003 == 0x00000002 ",
            "meta nfproto ipv4 ct mark & 0x00000007 == 0x00000004 ",
        ])
    }

    @Test func sharedHostAllowWarnsAndStaysBlocked() throws {
        let (r, d) = compile(text: "[drone a]\nmac = 02:00:00:00:00:01\npolicy = local-data\nallow = firmware\n")
        let w = d.warnings.map(\.message).filter { $0.hasPrefix("allow = ") }
        #expect(w.count == 1)
        #expect(w.first?.contains("sync.acme.example (also flight-logs, telemetry)") == true)
        #expect(w.first?.contains("203.0.113.20") == true)
        #expect(try chain(try #require(r), "drone_a").contains { $0.contains("cat=flight-logs") })
    }

    @Test func allowlistDropsUnlistedAndIsolateDropsAll() throws {
        let (r, _) = compile(text: """
            [station]
            drone-interfaces = wlan0
            [drone a]
            address = 192.0.2.1
            policy = allowlist
            allow = firmware
            [drone b]
            address = 192.0.2.2
            policy = isolate
            """)
        let r1 = try #require(r)
        let a = try chain(r1, "drone_a")
        #expect(a.contains("ct mark & 0x000007ff == 0x00000000 drop"))
        #expect(a.contains { $0.hasPrefix("meta nfproto ipv6 ct mark & 0x000007ff == 0x00000000 counter") && $0.contains("cat=unlisted") })
        #expect(a.contains("oifname @drone_interfaces goto accept_flow"))
        let b = try chain(r1, "drone_b")
        #expect(b.suffix(3).map { $0.prefix(22) } == ["meta nfproto ipv4 coun", "meta nfproto ipv6 coun", "drop"])
        #expect(b.suffix(3).first?.contains("log prefix \"dw drone=b cat=all \"") == true)
        #expect(try chain(r1, "unknown_devices").last?.hasSuffix("drop") == true)
    }

    @Test func monitorBlocksOnlyExplicitBlocksAndLogsTheRestAsWouldBlock() throws {
        let (r, _) = compile(text: "[drone m]\nuser = 1000\npolicy = monitor\nblock = media\nallow = maps\n")
        let rules = try chain(try #require(r), "drone_m")
        #expect(rules.filter { $0.hasSuffix("drop") } == ["ct state invalid,untracked drop",
                                                          "ct mark & 0x00000004 != 0x00000000 drop"])
        #expect(rules.contains { $0.contains("cat=mapped-address would-block") })
        // Resolver bypasses (DoT, public resolvers) are logged as would-block too, not dropped.
        #expect(rules.filter { $0.contains("cat=dns-bypass would-block") }.count == 10)
        let would = rules.filter { $0.contains("would-block") && !$0.contains("cat=dns-bypass") && !$0.contains("cat=mapped-address") }
        #expect(would.count == 2 * (Category.allCases.count - 2)) // not media (blocked), not maps (allowed)
        #expect(!would.contains { $0.contains("cat=maps") || $0.contains("cat=media") })
        #expect(rules.last == "goto accept_flow")
    }

    @Test func logPrefixesRoundTrip() {
        let reasons: [LogReason] = Category.allCases.map(LogReason.category) + [.host, .all, .unlisted, .untracked, .dnsBypass]
        for reason in reasons {
            for verdict in [LogVerdict.blocked, .wouldBlock] {
                let p = LogPrefix(drone: "survey-01_b", reason: reason, verdict: verdict)
                #expect(p.text.utf8.count <= 127)
                #expect(LogPrefix(parsing: p.text) == p)
            }
        }
        #expect(LogPrefix(drone: "a", reason: .category(.geofence), verdict: .wouldBlock).text
                == "dw drone=a cat=geofence would-block ")
        #expect(LogPrefix(parsing: "dw drone=a cat=host ")?.verdict == .blocked)
        #expect(LogPrefix(parsing: "dw drone=a cat=nonsense ") == nil, "not a reason the compiler writes")
        #expect(LogPrefix(parsing: "something else") == nil)
    }

    @Test func kernelNamesParseBack() {
        for drone in ["a", "survey_01", "x_allow_v4"] {
            for kind in [KernelLayout.HostListKind.allow, .block] {
                for (ipv6, learned) in [(false, false), (true, false), (false, true), (true, true)] {
                    let name = HostSetName(drone: drone, kind: kind, ipv6: ipv6, learned: learned)
                    #expect(HostSetName(parsing: name.text) == name)
                    #expect(KernelLayout.hostSet(drone, kind, ipv6: ipv6, learned: learned) == name.text)
                }
            }
        }
        #expect(HostSetName(parsing: "learned_v4") == nil)
        #expect(HostSetName(parsing: "drone__allow_v4") == nil)
        #expect(KernelLayout.drone(ofChain: KernelLayout.droneChain("survey_01")) == "survey_01")
        #expect(KernelLayout.drone(ofChain: "forward") == nil)
    }

    @Test func forwardLooksUpEveryPacketInterfaceFirst() throws {
        let (r, _) = compile(text: """
            [station]
            drone-interfaces = wlan0
            [drone a]
            mac = 02:00:00:00:00:01
            policy = local-data
            [drone b]
            interface = usb0
            policy = isolate
            """)
        let fwd = try chain(try #require(r), "forward")
        #expect(!fwd.contains { $0.contains("return") }, "an early return would exempt drones on other links")
        #expect(Array(fwd.dropFirst().prefix(2)) == ["iifname vmap @drones_by_interface", "ether saddr vmap @drones_by_mac"])
        #expect(fwd.last == "iifname @drone_interfaces goto unknown_devices")
    }

    @Test func withoutTheResolverBlockHostNamesAreErrorsAllowHostNamesWarnings() {
        let (r, d) = compile(text: "[station]\ndns-resolver = off\n[drone a]\nuser = 1\npolicy = isolate\n"
                             + "block-host = evil.example.org\nallow-host = ok.example.org\n")
        #expect(r == nil)
        #expect(d.errors.map(\.location!.line) == [6])
        #expect(d.warnings.map(\.location!.line) == [7])
    }

    /// With the resolver (the default), names in host lists get per-drone sets the resolver fills.
    @Test func hostNamesGetLearnedSetsBlockBeforeAllow() throws {
        let (r, d) = compile(text: "[drone a]\nuser = 1\npolicy = allowlist\n"
                             + "block-host = evil.example.org\nallow-host = ok.example.org\n")
        let ruleset = try #require(r, "\(d.rendered)")
        #expect(d.all.isEmpty, "\(d.rendered)")
        for name in ["drone_a_block_dns_v4", "drone_a_block_dns_v6", "drone_a_allow_dns_v4", "drone_a_allow_dns_v6"] {
            let set = try #require(ruleset.table.sets.first { $0.name == name }, "\(name) missing")
            #expect(set.flags.contains(.timeout) && set.elements.isEmpty)
        }
        let rules = try chain(ruleset, "drone_a")
        let block = try #require(rules.firstIndex { $0 == "ip daddr @drone_a_block_dns_v4 drop" })
        let allow = try #require(rules.firstIndex { $0 == "ip daddr @drone_a_allow_dns_v4 goto accept_flow" })
        #expect(block < allow)
    }

    /// Every drone's DNS goes to the station resolver on a port of its own; DoT is closed.
    @Test func dnsIsRedirectedPerDroneAndBypassesAreClosed() throws {
        let (r, d) = compile(text: """
            [station]
            drone-interfaces = wlan0
            dns-port = 20000
            [drone a]
            mac = 02:00:00:00:00:01
            policy = local-data
            [drone b]
            address = 192.0.2.9
            policy = isolate
            """)
        let ruleset = try #require(r, "\(d.rendered)")
        let port = KernelLayout.dnsPorts(base: 20000, drones: ["a", "b"])
        let (pa, pb) = (port["a"]!, port["b"]!)
        #expect(try chain(ruleset, "dns_drone_a") == ["udp dport 53 ct label set 127 redirect to :\(pa)",
                                                     "tcp dport 53 ct label set 127 redirect to :\(pa)"])
        #expect(try chain(ruleset, "dns_drone_b") == ["udp dport 53 ct label set 127 redirect to :\(pb)",
                                                     "tcp dport 53 ct label set 127 redirect to :\(pb)"])
        #expect(try chain(ruleset, "dns_unknown").first == "udp dport 53 ct label set 127 redirect to :20000")
        let pre = try #require(ruleset.table.chain(named: "dns_prerouting"))
        #expect(pre.base?.type == .nat && pre.base?.hook == .prerouting)
        #expect(pre.rules.map(NftTextRenderer.render(rule:)).last == "iifname @drone_interfaces goto dns_unknown")
        let ports = try #require(ruleset.table.sets.first { $0.name == "dns_ports" })
        #expect(Set(ports.elements.map(\.key)) == [.port(20000), .port(UInt16(pa)), .port(UInt16(pb))])
        #expect(try chain(ruleset, "dns_input") == ["udp dport @dns_ports ct label ! 127 drop",
                                                   "tcp dport @dns_ports ct label ! 127 drop"])
        let a = try chain(ruleset, "drone_a")
        #expect(a.contains("tcp dport 853 drop") && a.contains("udp dport 853 drop"))
        #expect(a.contains("udp dport 53 drop") && a.contains("tcp dport 53 drop"), "unredirected DNS")
        #expect(a.contains("ct mark & 0x00000800 == 0x00000800 drop"))
    }

    /// The resolver's ports take only what our own redirect sent them: every redirect in the
    /// table (gateway drones, unknown devices, `user =` drones' output path) labels its
    /// connection first, nothing else sets the label, and the input guard drops every packet to
    /// a resolver port whose connection lacks it, so another table's DNAT to such a port (a port
    /// forward from the uplink) is not answered as if a drone asked.
    @Test func resolverPortsTakeOnlyOurLabelledRedirect() throws {
        let (r, d) = compile(text: """
            [station]
            drone-interfaces = wlan0
            [drone a]
            mac = 02:00:00:00:00:01
            policy = local-data
            [drone u]
            user = 1
            policy = monitor
            """)
        let ruleset = try #require(r, "\(d.rendered)")
        let label = KernelLayout.dnsRedirectLabel
        var redirects = 0
        for c in ruleset.table.chains {
            for rule in c.rules {
                let labels = rule.statements.filter { $0 == .setConntrackLabel(label) }.count
                if case .redirect = rule.action {
                    redirects += 1
                    #expect(labels == 1, "\(c.name): \(NftTextRenderer.render(rule: rule))")
                } else {
                    #expect(labels == 0, "\(c.name) labels without redirecting: \(NftTextRenderer.render(rule: rule))")
                }
            }
        }
        #expect(redirects == 6, "a, u and the unknown devices, UDP and TCP each")
        #expect(try chain(ruleset, "dns_output") == ["meta skuid vmap @dns_by_user"])
        let guardChain = try #require(ruleset.table.chain(named: "dns_input"))
        #expect(guardChain.base?.hook == .input)
        #expect(guardChain.rules.map(\.matches) == [
            [.inSet(.udpDestinationPort, set: "dns_ports", negated: false), .conntrackLabel(label, negated: true)],
            [.inSet(.tcpDestinationPort, set: "dns_ports", negated: false), .conntrackLabel(label, negated: true)],
        ])
        #expect(guardChain.rules.allSatisfy { $0.action == .verdict(.drop) && $0.statements.isEmpty })
    }

    @Test func dnsPortRangeMustFit() {
        let (r, d) = compile(text: "[station]\ndns-port = 62000\n[drone a]\nmac = 02:00:00:00:00:01\npolicy = local-data\n")
        #expect(r == nil)
        #expect(d.rendered.contains("dns-port 62000 leaves no room"))
    }

    @Test func unknownUserIsAnErrorAtItsPlace() {
        let (r, d) = compile(text: "[drone a]\nuser = nosuchuser\npolicy = monitor\n")
        #expect(r == nil)
        #expect(d.errors.map { "\($0.location!): \($0.message)" } == ["/t.conf:2:8: no such user 'nosuchuser' on this station"])
    }

    @Test func withUplinksEveryOtherLinkIsDroneTerritory() throws {
        let (snap, d) = snapshot(text: "[station]\nuplink-interfaces = wan0\n[drone a]\nmac = 02:00:00:00:00:01\npolicy = local-data\n")
        let s = try #require(snap, "\(d.rendered)")
        #expect(d.warnings.isEmpty, "\(d.rendered)")
        #expect(s.drones.map(\.subject) == [.drone("a"), .unknownDevices])
        #expect(try chain(s.ruleset, "forward").last == "iifname != @station_interfaces goto unknown_devices")
        #expect(try chain(s.ruleset, "dns_prerouting").last == "iifname != @station_interfaces goto dns_unknown")
        let own = try #require(s.ruleset.table.set(named: "station_interfaces")).elements.map(\.key)
        #expect(own == [.interfaceName("wan0"), .interfaceName("lo")], "loopback is the station's own too")
        #expect(s.posture.hasPrefix("every link but wan0 is drone territory"))
    }

    @Test func withoutDroneTerritoryMACDronesAreWarned() throws {
        let (snap, d) = snapshot(text: "[drone a]\nmac = 02:00:00:00:00:01\npolicy = local-data\n")
        let s = try #require(snap)
        #expect(d.warnings.map(\.message).contains { $0.hasPrefix("drone 'a' is known by mac 02:00:00:00:00:01 only") })
        #expect(s.posture.hasPrefix("no drone territory"))
        let (lan, ld) = snapshot(text: "[station]\ndrone-interfaces = wlan0\n[drone a]\nmac = 02:00:00:00:00:01\npolicy = isolate\n")
        #expect(ld.warnings.isEmpty)
        #expect(try #require(lan).posture.hasPrefix("unknown devices only on wlan0 (isolate)"))
    }

    @Test func identitiesBoundToLinksDropCopiesElsewhere() throws {
        let (snap, d) = snapshot(text: "[station]\nuplink-interfaces = wan0\n[drone a]\nmac = 02:00:00:00:00:01\n"
                                 + "interface = usb0\nlink = wlan0\npolicy = local-data\n")
        let s = try #require(snap, "\(d.rendered)")
        let rules = try chain(s.ruleset, "drone_a")
        #expect(rules.contains("iifname != @drone_a_links drop"))
        #expect(rules.contains { $0.contains("iifname != @drone_a_links") && $0.contains("cat=wrong-link") })
        #expect(try #require(s.ruleset.table.set(named: "drone_a_links")).elements.map(\.key)
                == [.interfaceName("wlan0"), .interfaceName("usb0")], "its own interface counts too")
        let (none, _) = snapshot(text: "[drone b]\nmac = 02:00:00:00:00:02\npolicy = local-data\n")
        #expect(try !chain(try #require(none).ruleset, "drone_b").contains { $0.contains("_links") }, "no link: any link")
        let (_, ud) = snapshot(text: "[drone c]\nuser = 1000\nlink = wlan0\npolicy = monitor\n")
        #expect(ud.warnings.map(\.message).contains { $0.hasPrefix("link has no effect for a drone with user =") })
    }

    @Test func dnsStrictClosesWhatTheResolverDidNotAnswer() throws {
        let text = "[station]\ndns-strict = yes\ndrone-interfaces = wlan0\n[drone a]\naddress = 192.0.2.10\npolicy = local-data\n"
            + "allow-host = 198.51.100.0/24\n[drone m]\naddress = 192.0.2.11\npolicy = monitor\n"
            + "[drone i]\naddress = 192.0.2.12\npolicy = isolate\n[drone off]\naddress = 192.0.2.13\npolicy = local-data\ndns-strict = no\n"
        let (snap, d) = snapshot(text: text)
        let s = try #require(snap, "\(d.rendered)")
        let a = try chain(s.ruleset, "drone_a")
        #expect(a.contains("ip daddr != @drone_a_resolved_dns_v4 drop") && a.contains("ip6 daddr != @drone_a_resolved_dns_v6 drop"))
        let allowHost = try #require(a.firstIndex { $0.contains("@drone_a_allow_v4") })
        let strict = try #require(a.firstIndex { $0 == "ip daddr != @drone_a_resolved_dns_v4 drop" })
        #expect(allowHost < strict, "allow-host networks stay reachable")
        #expect(a.contains("oifname @drone_interfaces goto accept_flow"), "and the drone LAN")
        #expect(s.ruleset.table.set(named: "drone_a_resolved_dns_v4")?.flags.contains(.timeout) == true)
        let m = try chain(s.ruleset, "drone_m")
        #expect(m.contains { $0.contains("cat=unresolved would-block") } && !m.contains { $0.hasSuffix("@drone_m_resolved_dns_v4 drop") })
        #expect(try !chain(s.ruleset, "drone_i").contains { $0.contains("resolved") }, "isolate needs no list")
        #expect(try !chain(s.ruleset, "drone_off").contains { $0.contains("resolved") }, "per-drone no overrides the station")
        #expect(try chain(s.ruleset, "unknown_devices").allSatisfy { !$0.contains("resolved") }, "unknown devices are isolate")
        let (bad, bd) = snapshot(text: "[station]\ndns-resolver = off\n[drone a]\naddress = 192.0.2.10\npolicy = local-data\ndns-strict = yes\n")
        #expect(bad == nil && bd.rendered.contains("dns-strict needs the station resolver"))
    }

    @Test func reversePathCheckOnlyWhereThereIsAnInputInterface() throws {
        let (r, d) = compile(text: "[station]\ndrone-interfaces = wlan0\n[drone net]\naddress = 192.0.2.10\npolicy = monitor\n"
                             + "[drone app]\nuser = 1000\npolicy = local-data\n")
        let ruleset = try #require(r, "\(d.rendered)")
        let rp = "fib saddr . iif oif missing drop"
        #expect(try chain(ruleset, "drone_net").contains(rp), "forwarded drones, monitor too: a borrowed address is not the drone")
        #expect(try chain(ruleset, "unknown_devices").contains(rp))
        #expect(try !chain(ruleset, "drone_app").contains { $0.contains("fib") }, "the output hook has no input interface")
    }

    /// The catalogue's maps are kept from one compile to the next; a change to what they are
    /// made from (a NAT64 prefix here, the catalogue in `catalogueChangesReachTheMaps`) is never
    /// answered with the kept ones.
    @Test func keptCatalogueMapsFollowWhatTheyAreMadeFrom() throws {
        let base = "[drone a]\naddress = 192.0.2.10\npolicy = local-data\n"
        let v6 = { (text: String) throws -> [SetElement] in
            let (r, d) = compile(text: text)
            let ruleset = try #require(r, "\(d.rendered)")
            return try #require(ruleset.table.set(named: "endpoints_v6")).elements
        }
        let plain = try v6(base)
        let withPrefix = try v6("[station]\nnat64-prefix = 2001:db8:64::/96\n" + base)
        #expect(withPrefix.count > plain.count, "the images under the new prefix are there")
        #expect(try v6(base) == plain, "and gone again without it")
        #expect(try v6(base.replacingOccurrences(of: "local-data", with: "isolate")) == plain, "a drone's change keeps them")
    }

    @Test func catalogueChangesReachTheMaps() throws {
        let conf = goldenDirectory + "/catalogue-networks/dronewall.conf"
        let (before, _) = compile(configPath: conf)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dw-cat-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for f in try FileManager.default.contentsOfDirectory(atPath: goldenDirectory) where f.hasSuffix(".rules") {
            try FileManager.default.copyItem(atPath: goldenDirectory + "/" + f, toPath: dir + "/" + f)
        }
        try "[vendor extra]\nname = Extra\njurisdiction = US\nsource = s\n[endpoint 198.51.100.200/29]\ncategories = maps\nsource = s\n"
            .write(toFile: dir + "/extra.rules", atomically: true, encoding: .utf8)
        let (after, d) = compile(configPath: conf, catalogueDirs: [dir])
        let v4 = { (r: Ruleset?) in r?.table.set(named: "endpoints_v4")?.elements.map { NftTextRenderer.render(value: $0.key) } ?? [] }
        #expect(!v4(before).contains("198.51.100.200/29") && v4(after).contains("198.51.100.200/29"), "\(d.rendered)")
    }

    @Test func ipv4EntriesHaveNAT64Images() throws {
        let text = "[station]\nnat64-prefix = 2001:db8:64::/96\n[drone a]\naddress = 192.0.2.10\npolicy = local-data\n"
        let (r, d) = compile(text: text)
        let ruleset = try #require(r, "\(d.rendered)")
        let v4 = try #require(ruleset.table.set(named: "endpoints_v4")).elements
        let v6 = try #require(ruleset.table.set(named: "endpoints_v6")).elements
        let v4Net = try #require(v4.first { if case .network = $0.key { true } else { false } })
        guard case let .network(n) = v4Net.key else { return }
        for prefix in ["64:ff9b::/96", "2001:db8:64::/96"] {
            let image = try #require(n.nat64Image(under: try IPNetwork.parse(prefix)))
            #expect(v6.contains { $0.key == .network(image) && $0.data == v4Net.data }, "\(image) under \(prefix)")
        }
        #expect(try IPNetwork.parse("203.0.113.0/24").nat64Image(under: try IPNetwork.parse("64:ff9b::/96"))?.description
                == "64:ff9b::cb00:7100/120")
        let (bad, badDiags) = compile(text: "[station]\nnat64-prefix = 2001:db8:64::/64\n")
        #expect(bad == nil && badDiags.rendered.contains("nat64-prefix takes IPv6 /96 prefixes"))
    }

    @Test func generationChangesWithPolicyAndOnlyThen() throws {
        let a1 = try #require(compile(text: "[drone a]\nuser = 1\npolicy = monitor\n").0)
        let a2 = try #require(compile(text: "[drone a]\nuser = 1\npolicy = monitor\n").0)
        let b = try #require(compile(text: "[drone a]\nuser = 1\npolicy = isolate\n").0)
        let gen = { (r: Ruleset) in try chain(r, "accept_flow") }
        #expect(try gen(a1) == gen(a2))
        #expect(try gen(a1) != gen(b))
    }

    @Test func fiveHundredDronesCompileAndRender() throws {
        var text = "[station]\ndrone-interfaces = wlan0\n"
        for i in 0..<500 {
            let policy = ["isolate", "local-data", "allowlist", "monitor"][i % 4]
            text += "[drone d\(i)]\nmac = 02:00:00:00:\(String(format2: i / 256)):\(String(format2: i % 256))\n"
            text += "address = 10.\(i / 256).\(i % 256).0/24\npolicy = \(policy)\nallow = firmware\n"
        }
        let (r, d) = compile(text: text)
        let ruleset = try #require(r, "\(d.errors.prefix(3).map(\.description))")
        #expect(ruleset.table.chains.filter { $0.name.hasPrefix("drone_") }.count == 500)
        #expect(ruleset.table.set(named: "drones_by_mac")?.elements.count == 500)
        #expect(NftTextRenderer.render(ruleset).count > 100_000)
    }
}

extension String {
    init(format2 v: Int) {
        let h = String(v, radix: 16)
        self = h.count == 1 ? "0" + h : h
    }
}
