import Testing
@testable import DronewallConfig

@Suite struct CatalogueReaderTests {
    func read(_ files: [String: String], dirs: [String] = ["/usr/share/dw", "/etc/dw/vendors.d"]) -> (Catalogue, Diagnostics) {
        CatalogueReader(reader: MemoryReader(files)).read(directories: dirs)
    }

    @Test func readsVendorAndEndpoints() throws {
        let (cat, diags) = read(["/usr/share/dw/acme.rules": """
            [vendor acme]
            name = Acme Drones
            jurisdiction = US
            source = https://example.org/acme#about
            [endpoint logs.acme.example]
            categories = flight-logs telemetry
            source = Example analysis, 2020
            [endpoint 203.0.113.0/24]
            categories = other
            source = lab
            """])
        #expect(!diags.hasErrors, "\(diags.rendered)")
        let v = try #require(cat.vendor("acme"))
        #expect(v.source == "https://example.org/acme#about")
        #expect(v.endpoints.map(\.pattern.description) == ["logs.acme.example", "203.0.113.0/24"])
        #expect(v.endpoints[0].categories == [.flightLogs, .telemetry])
    }

    @Test func laterDirectoryOverridesSameVendor() throws {
        let (cat, diags) = read([
            "/usr/share/dw/acme.rules": "[vendor acme]\nname = A\njurisdiction = US\nsource = s\n[endpoint x.acme.example]\ncategories = media\nsource = s\n",
            "/etc/dw/vendors.d/local.rules": "[vendor acme]\n[endpoint x.acme.example]\ncategories = firmware\nsource = admin\n[endpoint y.acme.example]\ncategories = maps\nsource = admin\n",
        ])
        #expect(!diags.hasErrors, "\(diags.rendered)")
        let eps = try #require(cat.vendor("acme")).endpoints
        #expect(eps.map(\.pattern.description) == ["x.acme.example", "y.acme.example"])
        #expect(eps[0].categories == [.firmware])
    }

    @Test func warnsWhenAnEntryCoversASharedPlatform() {
        let (cat, diags) = read(["/etc/dw/vendors.d/x.rules": """
            [vendor x]
            name = X
            jurisdiction = US
            source = s
            [endpoint amazonaws.com]
            categories = other
            source = s
            [endpoint myapp.firebaseio.com]
            categories = telemetry
            source = s
            """])
        #expect(!diags.hasErrors)
        #expect(diags.warnings.count == 1)
        #expect(diags.rendered.contains("x.rules:5:11: warning: endpoint amazonaws.com covers amazonaws.com"), "\(diags.rendered)")
        #expect(cat.endpoints.count == 2, "a warning, not a refusal: an admin may mean it")
    }

    @Test func versionComesFromTheShippedDirectoryAndLocalFilesAreCounted() {
        let vendor = "[vendor acme]\nname = A\njurisdiction = US\nsource = s\n[endpoint acme.example]\ncategories = other\nsource = s\n"
        let (cat, diags) = read(["/usr/share/dw/VERSION": "2026-11-25\n", "/usr/share/dw/acme.rules": vendor,
                                 "/etc/dw/vendors.d/a.rules": "[vendor acme]\n", "/etc/dw/vendors.d/b.rules": "[vendor acme]\n"])
        #expect(!diags.hasErrors, "\(diags.rendered)")
        #expect(cat.version == "2026-11-25")
        #expect(cat.versionLabel == "2026-11-25 + 2 local files")
        let (bad, badDiags) = read(["/usr/share/dw/VERSION": "next tuesday\n", "/usr/share/dw/acme.rules": vendor])
        #expect(bad.version == nil && badDiags.hasErrors)
        #expect(badDiags.rendered.contains("VERSION: a catalogue version is a date"))
    }

    @Test func reportsBadEntries() {
        let (_, diags) = read(["/usr/share/dw/bad.rules": """
            [endpoint early.example.org]
            [vendor acme]
            name = A
            jurisdiction = usa
            [endpoint a.acme.example]
            categories = logs
            [endpoint a.acme.example]
            categories = media
            source = s
            """, "/usr/share/dw/other.rules": "[vendor other]\nname = O\njurisdiction = CN\nsource = s\n[endpoint a.acme.example]\ncategories = media\nsource = s\n"])
        #expect(headers(diags) == [
            "/usr/share/dw/bad.rules:1:2: [endpoint] before any [vendor] section",
            "/usr/share/dw/bad.rules:2:9: vendor 'acme' has no 'source'",
            "/usr/share/dw/bad.rules:4:16: jurisdiction must be an ISO 3166 two-letter code like CN or US",
            "/usr/share/dw/bad.rules:5:11: endpoint 'a.acme.example' has no 'source'; every entry cites a public source",
            "/usr/share/dw/bad.rules:6:14: unknown category 'logs' (categories: flight-logs telemetry media firmware app-update geofence maps account remote-config support other)",
            "/usr/share/dw/bad.rules:7:11: endpoint a.acme.example is listed twice",
            "/usr/share/dw/other.rules:5:11: endpoint a.acme.example is already claimed by vendor 'acme'",
        ])
    }
}
