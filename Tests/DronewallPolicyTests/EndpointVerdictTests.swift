import DronewallConfig
import DronewallPolicy
import Testing

/// `dronewall catalogue drone NAME`: what each policy does to each fixture entry.
@Suite struct EndpointVerdictTests {
    let config = """
        [drone loc]
        address = 192.0.2.10
        policy = local-data
        allow = firmware
        [drone list]
        address = 192.0.2.11
        policy = allowlist
        allow = firmware
        allow-host = 203.0.113.16/28
        [drone mon]
        address = 192.0.2.12
        policy = monitor
        block = media
        [drone iso]
        address = 192.0.2.13
        policy = isolate
        allow-host = 203.0.113.20
        """

    func verdicts(_ drone: String) throws -> [String: (String, String)] {
        let (snap, diags) = snapshot(text: config)
        let s = try #require(snap, "\(diags.rendered)")
        let v = try #require(s.drone(named: drone)).verdicts(s.catalogue)
        #expect(v.count == s.catalogue.endpoints.count, "one verdict per entry")
        return Dictionary(uniqueKeysWithValues: v.map { ($0.endpoint.pattern.description, ($0.outcome.rawValue, $0.reason)) })
    }

    @Test func localDataBlocksAllButAllowedCategoriesAndSharedHostsStayBlocked() throws {
        let v = try verdicts("loc")
        #expect(v["fw.acme.example"]! == ("allowed", "firmware not blocked"))
        #expect(v["logs.acme.example"]! == ("blocked", "flight-logs"))
        // A host serving firmware and more is allowed only when all it serves is.
        #expect(v["sync.acme.example"]! == ("blocked", "flight-logs telemetry"))
    }

    @Test func allowlistLetsThroughAllowedCategoriesAndAllowHostNetworks() throws {
        let v = try verdicts("list")
        #expect(v["fw.acme.example"]?.0 == "allowed")
        #expect(v["203.0.113.16/28"]! == ("allowed", "allow-host 203.0.113.16/28"))
        #expect(v["203.0.113.20"]! == ("allowed", "allow-host 203.0.113.16/28"), "inside the allowed network")
        #expect(v["203.0.113.0/24"]?.0 == "blocked", "only part of it is allowed")
        #expect(v["acme.example"]?.0 == "blocked")
    }

    @Test func monitorRecordsWouldBlockAndBlocksOnlyItsBlockList() throws {
        let v = try verdicts("mon")
        #expect(v["2001:db8:c::/48"]! == ("blocked", "media"))
        #expect(v["logs.acme.example"]! == ("would-block", "flight-logs"))
        #expect(v.values.allSatisfy { $0.0 != "allowed" })
    }

    @Test func isolateBlocksEverythingButAllowHosts() throws {
        let v = try verdicts("iso")
        #expect(v["203.0.113.20"]?.0 == "allowed")
        #expect(v.filter { $0.value.0 == "blocked" }.count == v.count - 1)
    }
}
