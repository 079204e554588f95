import Testing
import NetAddress
@testable import DronewallConfig

/// Reads `text` as /etc/dw/dronewall.conf (plus optional drop-ins) and returns the result.
func read(_ text: String, dropIns: [String: String] = [:]) -> (Config, Diagnostics) {
    var files = ["/etc/dw/dronewall.conf": text]
    for (name, body) in dropIns { files["/etc/dw/drones.d/\(name)"] = body }
    return ConfigReader(reader: MemoryReader(files)).read(mainPath: "/etc/dw/dronewall.conf")
}

/// The "file:line:col: error: message" header lines, for compact assertions.
func headers(_ d: Diagnostics, _ severity: Severity = .error) -> [String] {
    d.sorted.filter { $0.severity == severity }.map { "\($0.location.map(\.description) ?? "-"): \($0.message)" }
}

@Suite struct ConfigReaderTests {
    @Test func readsAFullConfig() throws {
        let (config, diags) = read("""
            # station
            [station]
            drone-interfaces = wlan0 usb0
            unknown-devices = monitor
            log-group = 12
            log-retention = 30d
            log-max-size = 500M

            [drone survey-01]
            mac = 60:60:1F:12:34:56
            policy = local-data
            allow = firmware   # but not logs
            allow-host = tiles.example.org 198.51.100.0/24
            block-host = 2001:db8::/48
            """)
        #expect(!diags.hasErrors, "\(diags.rendered)")
        #expect(config.station.droneInterfaces.map(\.value) == ["wlan0", "usb0"])
        #expect(config.station.unknownDevicesPolicy == .monitor)
        #expect(config.station.logGroup == 12)
        #expect(config.station.logRetentionSeconds == 30 * 86_400)
        #expect(config.station.logMaxBytes == 500 << 20)
        let d = try #require(config.drones.first)
        #expect(d.name == "survey-01")
        #expect(d.macs.map(\.value.description) == ["60:60:1f:12:34:56"])
        #expect(d.policy?.value == .localData)
        #expect(d.allow.map(\.value) == [.firmware])
        #expect(d.allowHosts.map(\.value.description) == ["tiles.example.org", "198.51.100.0/24"])
        #expect(d.blockHosts.first?.location == SourceLocation(file: "/etc/dw/dronewall.conf", line: 14, column: 14))
    }

    @Test func defaultsAreSafe() {
        let (config, diags) = read("[drone a]\naddress = 192.0.2.1\npolicy = monitor\n")
        #expect(!diags.hasErrors)
        #expect(config.station.unknownDevicesPolicy == .isolate)
        #expect(config.station.logGroup == StationConfig.defaultLogGroup)
    }

    @Test func dropInsAreReadInNameOrderWithTheirOwnPaths() {
        let (config, diags) = read("[station]\n", dropIns: [
            "b.conf": "[drone b]\nmac = 02:00:00:00:00:02\npolicy = isolate\n",
            "a.conf": "[drone a]\nmac = 02:00:00:00:00:01\npolicy = isolate\n",
            "notes.txt": "[drone ignored]\n",
        ])
        #expect(!diags.hasErrors)
        #expect(config.drones.map(\.name) == ["a", "b"])
        #expect(config.drones[0].location.file == "/etc/dw/drones.d/a.conf")
    }

    @Test func unknownKeySuggestsTheClosest() {
        let (_, diags) = read("[drone a]\nmac = 02:00:00:00:00:01\npolicy = isolate\nalow = firmware\n")
        #expect(headers(diags) == ["/etc/dw/dronewall.conf:4:1: unknown key 'alow' in [drone]; did you mean 'allow'?"])
    }

    @Test func unknownSectionSuggestsTheClosest() {
        let (_, diags) = read("[dron a]\n")
        #expect(headers(diags) == ["/etc/dw/dronewall.conf:1:2: unknown section '[dron]'; did you mean 'drone'?"])
    }

    @Test func collectsEveryErrorWithItsPlace() {
        let (_, diags) = read("""
            policy = isolate
            [station
            [drone bad/name]
            [drone x]
            mac = 60:60:1f:12:34
            address = 192.0.2.300 192.0.2.1/33 192.0.2.1/24 2001:db8::/129
            policy = locl-data
            allow = firmwear
            allow-host = bad_host.example.org -x.org
            interface =
            [drone empty]
            """)
        let h = headers(diags)
        #expect(h == [
            "/etc/dw/dronewall.conf:1:1: 'policy' outside any section; put it under a [section] header",
            "/etc/dw/dronewall.conf:2:9: unterminated section header: expected ']'",
            "/etc/dw/dronewall.conf:3:8: bad drone name 'bad/name': use 1 to 32 letters, digits, '.', '_' or '-'",
            "/etc/dw/dronewall.conf:5:7: bad MAC address '60:60:1f:12:34': expected six hex pairs like 60:60:1f:12:34:56",
            "/etc/dw/dronewall.conf:6:11: bad address '192.0.2.300': expected an IPv4 or IPv6 address or CIDR",
            "/etc/dw/dronewall.conf:6:23: bad prefix length in '192.0.2.1/33': expected 0 to 32",
            "/etc/dw/dronewall.conf:6:36: '192.0.2.1/24' has host bits set beyond its prefix; did you mean 192.0.2.0/24?",
            "/etc/dw/dronewall.conf:6:49: bad prefix length in '2001:db8::/129': expected 0 to 128",
            "/etc/dw/dronewall.conf:7:10: unknown policy 'locl-data'; did you mean 'local-data'? (policies: isolate, local-data, allowlist, monitor)",
            "/etc/dw/dronewall.conf:8:9: unknown category 'firmwear'; did you mean 'firmware'? (categories: flight-logs telemetry media firmware app-update geofence maps account remote-config support other)",
            "/etc/dw/dronewall.conf:9:14: invalid domain name 'bad_host.example.org': label 'bad_host' may hold only letters, digits and '-'",
            "/etc/dw/dronewall.conf:9:35: invalid domain name '-x.org': label '-x' may not start or end with '-'",
            "/etc/dw/dronewall.conf:10:11: empty value for 'interface'",
            "/etc/dw/dronewall.conf:11:8: drone 'empty' has no identity: give at least one of mac, address, interface, user",
            "/etc/dw/dronewall.conf:11:8: drone 'empty' has no policy: add 'policy = isolate|local-data|allowlist|monitor'",
        ])
    }

    @Test func duplicatesNameBothPlaces() throws {
        let (_, diags) = read("""
            [station]
            [station]
            [drone a]
            mac = 02:00:00:00:00:01
            address = 192.0.2.0/28
            policy = isolate
            [drone b]
            mac = 02:00:00:00:00:01
            address = 192.0.2.5
            policy = isolate
            [drone a]
            user = pilot
            policy = monitor
            """)
        #expect(headers(diags) == [
            "/etc/dw/dronewall.conf:2:2: a second [station] section; there can be only one",
            "/etc/dw/dronewall.conf:8:7: MAC 02:00:00:00:00:01 is already claimed by drone 'a'",
            "/etc/dw/dronewall.conf:9:11: address 192.0.2.5 overlaps 192.0.2.0/28 claimed by drone 'a'",
            "/etc/dw/dronewall.conf:11:8: duplicate drone name 'a'",
        ])
        let mac = try #require(diags.errors.first { $0.message.hasPrefix("MAC") })
        #expect(mac.notes.first?.location == SourceLocation(file: "/etc/dw/dronewall.conf", line: 4, column: 7))
    }

    @Test func everyAddressOverlapIsReportedAtTheLaterPlace() {
        let (_, diags) = read("""
            [drone a]
            address = 192.0.2.64/26 2001:db8::/64 198.51.100.1
            policy = isolate
            [drone b]
            address = 192.0.2.100 2001:db8:1::1 198.51.100.2
            policy = isolate
            [drone c]
            address = 2001:db8::5 198.51.100.2 192.0.2.0/24
            policy = isolate
            """)
        #expect(headers(diags) == [
            "/etc/dw/dronewall.conf:5:11: address 192.0.2.100 overlaps 192.0.2.64/26 claimed by drone 'a'",
            "/etc/dw/dronewall.conf:8:11: address 2001:db8::5 overlaps 2001:db8::/64 claimed by drone 'a'",
            "/etc/dw/dronewall.conf:8:23: address 198.51.100.2 is already claimed by drone 'b'",
            "/etc/dw/dronewall.conf:8:36: address 192.0.2.0/24 overlaps 192.0.2.64/26 claimed by drone 'a'",
        ])
    }

    @Test func logRetentionIsADurationOfAtLeastAnHour() {
        let (_, diags) = read("[station]\nlog-retention = 10m\n[drone a]\nuser = 1\npolicy = monitor\n")
        #expect(headers(diags) == ["/etc/dw/dronewall.conf:2:17: log-retention must be a duration from 1h to 100 years (36525d), like 90d, 12w or 48h"])
    }

    @Test func logRetentionIsCappedAtAHundredYears() {
        // 99999999w fits Int64 seconds but not microseconds: the daemon trapped on it.
        let (_, diags) = read("[station]\nlog-retention = 99999999w\n[drone a]\nuser = 1\npolicy = monitor\n")
        #expect(headers(diags) == ["/etc/dw/dronewall.conf:2:17: log-retention must be a duration from 1h to 100 years (36525d), like 90d, 12w or 48h"])
        let (ok, okDiags) = read("[station]\nlog-retention = 36525d\n[drone a]\nuser = 1\npolicy = monitor\n")
        #expect(okDiags.errors.isEmpty && ok.station.logRetentionSeconds == 36_525 * 86_400)
    }

    @Test func allowAndBlockOfOneCategoryConflict() {
        let (_, diags) = read("[drone a]\nuser = 1000\npolicy = local-data\nallow = media\nblock = media\n")
        #expect(headers(diags) == ["/etc/dw/dronewall.conf:5:9: category 'media' is both allowed and blocked"])
    }

    @Test func invalidUTF8IsReportedAtItsColumn() {
        var bytes = Array("[drone a]\nuser = pi".utf8)
        bytes += [0xFF, 0xFE]
        bytes += Array("lot\npolicy = monitor\n".utf8)
        let reader = MemoryReader(bytes: ["/c.conf": bytes])
        let (_, diags) = ConfigReader(reader: reader).read(mainPath: "/c.conf")
        // The bad line is skipped, so the drone lacks the identity it named: that follows from the
        // first error and is reported too, since nothing else names the drone's state.
        #expect(headers(diags) == ["/c.conf:1:8: drone 'a' has no identity: give at least one of mac, address, interface, user",
                                   "/c.conf:2:10: invalid UTF-8 (the file must be UTF-8 text)"])
    }

    @Test func missingMainFileIsAnError() {
        let (_, diags) = ConfigReader(reader: MemoryReader([:])).read(mainPath: "/nope.conf")
        #expect(headers(diags) == ["-: cannot read /nope.conf: no such file"])
    }

    @Test func diagnosticShowsLineAndCaret() {
        let (_, diags) = read("[drone a]\nuser = 1000\npolicy = isolat\n")
        #expect(diags.rendered == """
            /etc/dw/dronewall.conf:3:10: error: unknown policy 'isolat'; did you mean 'isolate'? (policies: isolate, local-data, allowlist, monitor)
            policy = isolat
                     ^~~~~~

            """)
    }
}

@Suite struct AddressTests {
    @Test(arguments: [
        ("192.0.2.1", "192.0.2.1"), ("192.0.2.0/24", "192.0.2.0/24"), ("2001:DB8::1", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("::", "::"), ("64:ff9b::192.0.2.1", "64:ff9b::c000:201"),
        ("2001:db8::/32", "2001:db8::/32"), ("0.0.0.0/0", "0.0.0.0/0"),
    ])
    func parsesAndPrintsCanonically(input: String, printed: String) throws {
        #expect(try IPNetwork.parse(input).description == printed)
    }

    @Test(arguments: ["1.2.3", "01.2.3.4", "1.2.3.4.5", "2001:db8:::1", "1::2::3", "12345::", "1.2.3.4/", "g::1",
                      "2001:db8::+1", "::ffff:192.0.2.9"])
    func rejects(input: String) {
        #expect(throws: AddressParseError.self) { try IPNetwork.parse(input) }
    }

    @Test func overlapAndContainment() throws {
        let a = try IPNetwork.parse("192.0.2.0/24"), b = try IPNetwork.parse("192.0.2.128/25")
        #expect(a.overlaps(b) && a.contains(b) && !b.contains(a))
        #expect(!a.overlaps(try IPNetwork.parse("198.51.100.0/24")))
        #expect(!a.overlaps(try IPNetwork.parse("2001:db8::/32")))
    }

    @Test func macsAreSixHexPairs() {
        #expect(MACAddress.parse("60-60-1F-12-34-56")?.description == "60:60:1f:12:34:56")
        #expect(MACAddress.parse("+1:02:03:04:05:06") == nil)
        #expect(MACAddress.parse("60:60:1f:12:34") == nil)
    }

    @Test func domains() {
        #expect((try? Syntax.domain("FlySafe.DJI.com.").get()) == "flysafe.dji.com")
        #expect((try? Syntax.domain("localhost").get()) == nil)
        #expect((try? Syntax.domain("a..b").get()) == nil)
        #expect((try? Syntax.domain("1.2.3.4").get()) == nil)
    }
}
