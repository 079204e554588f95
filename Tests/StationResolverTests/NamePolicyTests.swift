import StationResolver
import DronewallConfig
import DronewallPolicy
import Testing
import KernelLayout

/// The resolver decides per asking drone, by the port its query was redirected to.
@Suite struct NamePolicyTests {
    let catalogue = """
        [vendor acme]
        name = Acme
        jurisdiction = US
        source = s
        [endpoint acme.example]
        categories = other
        source = s
        [endpoint geo.acme.example]
        categories = geofence
        source = s
        [endpoint fw.acme.example]
        categories = firmware
        source = s
        """
    let resolvers = """
        [resolver pub]
        name = Public DNS
        source = s
        names = dns.pub.example
        addresses = 192.0.2.53
        """
    let config = """
        [station]
        drone-interfaces = wlan0
        dns-port = 20000
        [drone loc]
        address = 192.0.2.10
        policy = local-data
        allow = firmware
        block-host = evil.example.org
        [drone mon]
        address = 192.0.2.11
        policy = monitor
        [drone list]
        address = 192.0.2.12
        policy = allowlist
        allow-host = tiles.example.org
        """

    func policy() -> NamePolicy {
        let reader = MemoryReader(["/etc/dw/dronewall.conf": config, "/usr/share/dw/vendors/acme.rules": catalogue,
                                   "/usr/share/dw/resolvers.rules": resolvers])
        let (cat, cd) = CatalogueReader(reader: reader).read(directories: ["/usr/share/dw/vendors"])
        let (cfg, d) = ConfigReader(reader: reader).read(mainPath: "/etc/dw/dronewall.conf")
        #expect(!cd.hasErrors && !d.hasErrors, "\(cd.rendered)\(d.rendered)")
        return namePolicy(cfg, cat)
    }

    /// Ports by drone name, as the compiler assigns them.
    let port = KernelLayout.dnsPorts(base: 20000, drones: ["loc", "mon", "list"])

    @Test func portsNameTheAskers() throws {
        let p = policy()
        #expect(p.askers[port["loc"]!]?.subject == .drone("loc"))
        #expect(p.askers[port["mon"]!]?.subject == .drone("mon"))
        #expect(p.askers[port["list"]!]?.subject == .drone("list"))
        #expect(p.askers[20000]?.subject == .unknownDevices)
        #expect(p.unknownPort == 20000)
        #expect(Set(port.values).count == 3 && port.values.allSatisfy { $0 > 20000 && $0 <= 20000 + 4096 })
    }

    @Test func aDroneKeepsItsPortWhenOthersComeAndGo() {
        let before = KernelLayout.dnsPorts(base: 15300, drones: ["alpha", "bravo", "charlie"])
        let after = KernelLayout.dnsPorts(base: 15300, drones: ["aardvark", "alpha", "charlie", "delta"])
        #expect(before["alpha"] == after["alpha"] && before["charlie"] == after["charlie"])
    }

    @Test func localDataSinkholesBlockedCategoriesButLearnsThem() throws {
        let p = policy()
        let loc = try #require(p.askers[port["loc"]!])
        let geo = p.decide(["geo.acme.example"], for: loc)
        #expect(geo.sinkhole?.word == "geofence")
        #expect(geo.mask == Category.geofence.bit, "learned anyway: a cached address stays classified")
        let fw = p.decide(["fw.acme.example"], for: loc)
        #expect(fw.sinkhole == nil && fw.mask == Category.firmware.bit)
        #expect(p.decide(["www.example.net"], for: loc) == NamePolicy.Decision())
        // A CNAME chain counts as a whole: an innocent question aliased to a vendor host.
        #expect(p.decide(["cdn.example.net", "geo.acme.example"], for: loc).sinkhole?.word == "geofence")
        // Unlisted subdomains fall to the vendor's registrable domain.
        #expect(p.decide(["x.acme.example"], for: loc).sinkhole?.word == "other")
    }

    @Test func hostListsBeatCategories() throws {
        let p = policy()
        let loc = try #require(p.askers[port["loc"]!])
        let evil = p.decide(["a.evil.example.org"], for: loc)
        #expect(evil.sinkhole?.word == "host" && evil.blockHost && !evil.allowHost)
        let list = try #require(p.askers[port["list"]!])
        let tiles = p.decide(["tiles.example.org"], for: list)
        #expect(tiles.sinkhole == nil && tiles.allowHost && tiles.learnsAnything)
        #expect(p.decide(["other.example.org"], for: list).learnsAnything == false)
    }

    @Test func monitorAnswersAndRecordsWouldBlock() throws {
        let p = policy()
        let mon = try #require(p.askers[port["mon"]!])
        let geo = p.decide(["geo.acme.example"], for: mon)
        #expect(geo.sinkhole == nil && geo.wouldBlock?.word == "geofence" && geo.mask == Category.geofence.bit)
        #expect(p.decide(["dns.pub.example"], for: mon).wouldBlock?.word == "dns-bypass")
    }

    @Test func publicResolversAreSinkholedForEveryoneElse() throws {
        let p = policy()
        for asker in [20000, port["loc"]!, port["list"]!] {
            let d = p.decide(["doh.dns.pub.example"], for: try #require(p.askers[asker]))
            #expect(d.sinkhole?.word == "dns-bypass" && d.mask & KernelLayout.resolverBit != 0)
        }
    }
}

/// The resolver's policy for a config and catalogue read without errors.
func namePolicy(_ config: Config, _ catalogue: Catalogue) -> NamePolicy {
    var diags = Diagnostics()
    let snapshot = PolicySnapshot.build(config: config, catalogue: catalogue, resolveUser: { _ in nil }, into: &diags)
    #expect(snapshot != nil, "\(diags.rendered)")
    return snapshot.map(NamePolicy.init) ?? NamePolicy(drones: [], catalogue: catalogue)
}
