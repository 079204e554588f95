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
        let blocked = rules.filter { $0.contains(" drop") }
        #expect(blocked.count == Category.allCases.count - 2)
        #expect(!rules.contains { $0.contains("cat=firmware") || $0.contains("cat=maps") })
        #expect(rules.first == "jump classify")
        #expect(rules.last == "goto accept_flow")
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
        #expect(a.contains("ct mark & 0x000007ff == 0x00000000 counter log prefix \"dw drone=a cat=unlisted \" group 7140 drop"))
        #expect(a.contains("oifname @drone_interfaces goto accept_flow"))
        let b = try chain(r1, "drone_b")
        #expect(b.suffix(1) == ["counter log prefix \"dw drone=b cat=all \" group 7140 drop"])
        #expect(try chain(r1, "unknown_devices").last?.hasSuffix("drop") == true)
    }

    @Test func monitorBlocksOnlyExplicitBlocks() throws {
        let (r, _) = compile(text: "[drone m]\nuser = 1000\npolicy = monitor\nblock = media\n")
        let rules = try chain(try #require(r), "drone_m")
        #expect(rules.filter { $0.hasSuffix("drop") } == [
            "ct mark & 0x00000004 != 0x00000000 counter log prefix \"dw drone=m cat=media \" group 7140 drop"])
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
