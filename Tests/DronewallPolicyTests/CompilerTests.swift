import Testing
import DronewallConfig
@testable import DronewallPolicy
import NftModel

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
        // Untracked packets first (logged, dropped), then two logging rules (IPv4, IPv6) per
        // blocked category and one drop for all of them.
        #expect(rules[2] == "ct state invalid,untracked drop")
        #expect(rules[3] == "jump classify")
        let logging = rules.dropFirst(4).filter { $0.contains(" log prefix") }
        #expect(logging.count == 2 * (Category.allCases.count - 2))
        #expect(!rules.contains { $0.contains("cat=firmware") || $0.contains("cat=maps") })
        #expect(rules.filter { $0.hasSuffix("drop") }.last == "ct mark & 0x000007b7 != 0x00000000 drop")
        #expect(logging.first == "meta nfproto ipv4 ct mark & 0x00000001 == 0x00000001 counter update @log_meter_v4 "
                + "{ ip saddr . ip daddr limit rate 10/second burst 20 packets } log prefix \"dw drone=a cat=flight-logs \" group 7140")
        #expect(rules.last == "goto accept_flow")
    }

    @Test func aPacketIsLoggedUnderOneCategoryOnly() throws {
        let (r, _) = compile(text: "[drone a]\nmac = 02:00:00:00:00:01\npolicy = local-data\nallow = firmware\n")
        let v4 = try chain(try #require(r), "drone_a").filter { $0.hasPrefix("meta nfproto ipv4 ct mark") }
        // telemetry (bit 1) is logged only when flight-logs (bit 0) is not set, and so on.
        #expect(v4.prefix(3).map { String($0.prefix(53)) } == [
            "meta nfproto ipv4 ct mark & 0x00000001 == 0x00000001 ",
            "meta nfproto ipv4 ct mark & 0x00000003 == 0x00000002 ",
            "meta nfproto ipv4 ct mark & 0x00000007 == 0x00000004 ",
        ])
    }

    @Test func sharedHostAllowWarnsAndStaysBlocked() throws {
        let (r, d) = compile(text: "[drone a]\nmac = 02:00:00:00:00:01\npolicy = local-data\nallow = firmware\n")
        let w = d.warnings.map(\.message)
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
        let would = rules.filter { $0.contains("would-block") }
        #expect(would.count == 2 * (Category.allCases.count - 2)) // not media (blocked), not maps (allowed)
        #expect(!would.contains { $0.contains("cat=maps") || $0.contains("cat=media") })
        #expect(rules.last == "goto accept_flow")
    }

    @Test func logPrefixesRoundTrip() {
        let p = KernelLayout.logPrefix(drone: "survey-01", reason: "geofence", verdict: .wouldBlock)
        #expect(p.utf8.count <= 127)
        #expect(KernelLayout.parseLogPrefix(p).map { "\($0.drone) \($0.reason) \($0.verdict)" } == "survey-01 geofence wouldBlock")
        #expect(KernelLayout.parseLogPrefix("dw drone=a cat=host ").map(\.verdict) == .blocked)
        #expect(KernelLayout.parseLogPrefix("something else") == nil)
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

    @Test func blockHostNamesAreErrorsAllowHostNamesWarnings() {
        let (r, d) = compile(text: "[drone a]\nuser = 1\npolicy = isolate\nblock-host = evil.example.org\nallow-host = ok.example.org\n")
        #expect(r == nil)
        #expect(d.errors.map(\.location!.line) == [4])
        #expect(d.warnings.map(\.location!.line) == [5])
    }

    @Test func unknownUserIsAnErrorAtItsPlace() {
        let (r, d) = compile(text: "[drone a]\nuser = nosuchuser\npolicy = monitor\n")
        #expect(r == nil)
        #expect(d.errors.map { "\($0.location!): \($0.message)" } == ["/t.conf:2:8: no such user 'nosuchuser' on this station"])
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
