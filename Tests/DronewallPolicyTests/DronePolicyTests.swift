import DronewallConfig
import DronewallPolicy
import NftModel
import Testing
import KernelLayout

/// The validated model every consumer reads: what `PolicyModel.validate` makes of a config.
@Suite struct DronePolicyTests {
    func drones(_ text: String) throws -> [DronePolicy] {
        let (s, d) = snapshot(text: text)
        return try #require(s, "\(d.rendered)").drones
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var kind: String, allow: String, block: String, blocked: CategorySet, wouldBlock: CategorySet
        var testDescription: String { "\(kind) allow \(allow) block \(block)" }
    }

    static let cases: [Case] = [
        Case(kind: "isolate", allow: "firmware", block: "", blocked: .all, wouldBlock: []),
        Case(kind: "local-data", allow: "firmware maps", block: "",
             blocked: CategorySet.all.subtracting(CategorySet([.firmware, .maps])), wouldBlock: []),
        Case(kind: "local-data", allow: "", block: "firmware", blocked: .all, wouldBlock: []),
        Case(kind: "allowlist", allow: "firmware maps", block: "media",
             blocked: CategorySet.all.subtracting(CategorySet([.firmware, .maps])), wouldBlock: []),
        Case(kind: "monitor", allow: "maps", block: "media", blocked: CategorySet(.media),
             wouldBlock: CategorySet.all.subtracting(CategorySet([.maps, .media]))),
    ]

    @Test(arguments: cases)
    func categoriesFollowPolicyAndOverrides(_ c: Case) throws {
        var text = "[drone a]\naddress = 192.0.2.10\npolicy = \(c.kind)\n"
        if !c.allow.isEmpty { text += "allow = \(c.allow)\n" }
        if !c.block.isEmpty { text += "block = \(c.block)\n" }
        let a = try #require(try drones(text).first)
        #expect(a.blocked == c.blocked)
        #expect(a.wouldBlock == c.wouldBlock)
    }

    @Test func usersAreResolvedOnceToUIDs() throws {
        let d = try drones("[drone app]\nuser = pilot 1000 7\npolicy = monitor\n")
        // "pilot" is uid 1000 on the test station: listed twice, kept once, at its first place.
        #expect(d[0].uids.map(\.value) == [1000, 7])
        #expect(d[0].uids.map(\.location.column) == [8, 19])
        #expect(d[0].hasUserIdentity)
    }

    @Test func identitiesKeepConfigOrderAndPlaces() throws {
        let d = try drones("[drone a]\ninterface = usb0\nmac = 02:00:00:00:00:01\naddress = 192.0.2.10 2001:db8::10\n"
                           + "policy = isolate\n")
        #expect(d[0].identities.map(\.value.description)
                == ["mac 02:00:00:00:00:01", "address 192.0.2.10", "address 2001:db8::10", "interface usb0"])
        #expect(d[0].identities[0].location.line == 3)
    }

    @Test func unknownDevicesComeLastWithTheBasePort() throws {
        let d = try drones("[station]\ndrone-interfaces = wlan0\nunknown-devices = monitor\ndns-port = 20000\n"
                           + "[drone a]\naddress = 192.0.2.10\npolicy = local-data\n")
        #expect(d.map(\.subject) == [.drone("a"), .unknownDevices])
        #expect(d[1].kind == .monitor)
        #expect(d[1].subject.word == KernelLayout.unknownDroneWord)
        #expect(d[1].resolverPort == 20000)
        #expect(d[0].resolverPort.map(Int.init) == KernelLayout.dnsPorts(base: 20000, drones: ["a"])["a"])
        #expect(try drones("[drone a]\naddress = 192.0.2.10\npolicy = isolate\n").map(\.subject) == [.drone("a")],
                "no drone interfaces, no unknown devices")
    }

    @Test func noResolverPortsWithoutTheResolver() throws {
        let d = try drones("[station]\ndns-resolver = off\ndrone-interfaces = wlan0\n[drone a]\naddress = 192.0.2.10\n"
                           + "policy = isolate\n")
        #expect(d.allSatisfy { $0.resolverPort == nil })
    }

    @Test func generationIgnoresPlacesButNotPolicy() throws {
        let base = "[drone a]\naddress = 192.0.2.10\npolicy = local-data\n"
        let g = { (text: String) throws -> UInt32 in try #require(snapshot(text: text).0).generation }
        let moved = "# a comment moves every line\n\n" + base
        #expect(try g(base) == g(moved))
        #expect(try g(base) != g(base + "block-host = 203.0.113.9\n"))
        #expect(try g(base) != g(base.replacingOccurrences(of: "192.0.2.10", with: "192.0.2.11")))
        #expect(try g(base) & 0xffff == 0 && g(base) != 0, "upper half of the conntrack mark, never 0")
        let s = try #require(snapshot(text: base).0)
        let named = s.ruleset.table.chain(named: KernelLayout.policyChain)?.comment
        #expect(named?.contains("generation 0x\(String(s.generation >> 16, radix: 16));") == true)
        #expect(s.ruleset.table.comment == nil, "a table's comment cannot change without replacing the table")
    }

    @Test func aCollidingGenerationMovesOnAndTheSamePolicyKeepsIt() throws {
        let s = try #require(snapshot(text: "[drone a]\naddress = 192.0.2.10\npolicy = local-data\n").0)
        let collision = PolicyComment(generation: s.generation, policy: s.fingerprint &+ 1, catalogue: "x")
        let moved = s.avoidingGeneration(of: collision)
        #expect(moved.generation != s.generation && moved.generation & 0xffff == 0 && moved.generation != 0)
        let accept = try #require(moved.ruleset.table.chain(named: "accept_flow")).rules.map(NftTextRenderer.render(rule:))
        #expect(accept == ["ct mark set ct mark | 0x\(String(moved.generation, radix: 16)) accept"])
        let named = moved.ruleset.table.chain(named: KernelLayout.policyChain)?.comment
        #expect(PolicyComment(parsing: named ?? "")?.generation == moved.generation)
        #expect(moved.isApplied(as: PolicyComment(parsing: named ?? "")), "the fingerprint stays: still this policy")
        // The same policy keeps its generation (established flows stay on the fast path) ...
        #expect(s.avoidingGeneration(of: s.policyComment).generation == s.generation)
        // ... another generation is no collision, and neither is no table.
        let other = PolicyComment(generation: PolicyFingerprintProbe.next(s.generation), policy: 1, catalogue: nil)
        #expect(s.avoidingGeneration(of: other).generation == s.generation)
        #expect(s.avoidingGeneration(of: nil).generation == s.generation)
        // A comment from before fingerprints were recorded, with the same generation: moved on.
        let old = "dronewall generation 0x\(String(s.generation >> 16, radix: 16)); catalogue x"
        #expect(s.avoidingGeneration(of: PolicyComment(parsing: old)).generation != s.generation)
    }

    @Test func tableCommentsRoundTrip() {
        let c = PolicyComment(generation: 0xffff_0000, policy: 0x0123_4567_89ab_cdef, catalogue: "2026-11-25 + 1 local file")
        #expect(c.text == "dronewall generation 0xffff; policy 123456789abcdef; catalogue 2026-11-25 + 1 local file")
        #expect(PolicyComment(parsing: c.text) == c)
        #expect(PolicyComment(parsing: "something else") == nil)
        // The policy chain's comment is what counts; a table applied by an older version names it
        // in the table's own comment.
        #expect(PolicyComment(chainComment: c.text, tableComment: "dronewall generation 0x1; catalogue old") == c)
        #expect(PolicyComment(chainComment: nil, tableComment: c.text) == c)
        #expect(PolicyComment(chainComment: "hand-made", tableComment: nil) == nil)
    }

    @Test func userDronesAreToldWhenLookupsGoThroughSystemdResolved() throws {
        let conf = "[drone app]\nuser = pilot\npolicy = local-data\n[drone net]\naddress = 192.0.2.10\npolicy = local-data\n"
        func warnings(_ resolv: String) -> [String] {
            let reader = MemoryReader(["/etc/dw/dronewall.conf": conf, "/etc/resolv.conf": resolv,
                                       "/usr/share/dw/vendors/t.rules": "[vendor t]\nname = T\njurisdiction = US\nsource = s\n"
                                           + "[endpoint t.example]\ncategories = other\nsource = s\n"])
            let out = PolicyLoader(configPath: "/etc/dw/dronewall.conf", catalogueDirectories: ["/usr/share/dw/vendors"],
                                   reader: reader, resolveUser: testUsers).load()
            return out.diagnostics.warnings.filter { $0.message.contains("systemd-resolved") }
                .map { "\($0.location.map(\.description) ?? ""): \($0.message)" }
        }
        let stub = warnings("# systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\n")
        #expect(stub.count == 1, "one warning, for the user drone only: \(stub)")
        #expect(stub.first?.hasPrefix("/etc/dw/dronewall.conf:2:8: the station resolves through systemd-resolved") == true)
        #expect(warnings("nameserver 192.0.2.53\n").isEmpty)
        #expect(ResolvConf.nameservers(in: Array("nameserver fe80::1%eth0\n#nameserver 1.2.3.4\nnameserver\t192.0.2.1\n".utf8))
                == ["fe80::1", "192.0.2.1"])
    }

    @Test func hostPatternsCoverOnLabelBoundaries() throws {
        let dji = HostPattern.domain("dji.com")
        #expect(dji.covers(name: "dji.com"))
        #expect(dji.covers(name: "api.dji.com"))
        #expect(!dji.covers(name: "evil-dji.com"))
        #expect(!dji.covers(name: "com"))
        #expect(dji.covers(.domain("a.b.dji.com")))
        #expect(!dji.covers(.network(try IPNetwork.parse("203.0.113.0/24"))))
        let net = HostPattern.network(try IPNetwork.parse("203.0.113.0/24"))
        #expect(net.covers(.network(try IPNetwork.parse("203.0.113.16/28"))))
        #expect(!net.covers(.network(try IPNetwork.parse("203.0.112.0/23"))))
        #expect(!net.covers(name: "203.0.113.1"))
    }
}

extension String {
    func replacingOccurrences(of a: String, with b: String) -> String {
        split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }
}

/// The generation after another, as the compiler moves it on (tests only need one that differs).
enum PolicyFingerprintProbe {
    static func next(_ g: UInt32) -> UInt32 { ((g >> 16) % 0xffff + 1) << 16 }
}
