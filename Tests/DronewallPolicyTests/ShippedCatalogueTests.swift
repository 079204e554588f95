import Testing
import DronewallConfig
import DronewallPolicy
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The shipped catalogue (rules/vendors) as `dronewall explain` sees it.
@Suite struct ShippedCatalogueTests {
    static let vendorsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("rules/vendors").path

    let loaded: (Catalogue, Diagnostics) = CatalogueReader().read(directories: [Self.vendorsDirectory])

    /// The catalogue lint: the reader's checks (categories, a source, valid domains, one vendor per
    /// name, no shared platform covered) all pass with neither errors nor warnings.
    @Test func readsWithoutErrorsOrWarningsAndEveryEntryCitesASource() {
        let (catalogue, diags) = loaded
        #expect(diags.all.isEmpty, "\(diags.rendered)")
        #expect(catalogue.vendor("dji") != nil)
        for e in catalogue.endpoints {
            #expect(!e.categories.isEmpty, "\(e.pattern) has no categories")
            #expect(!e.source.isEmpty, "\(e.pattern) has no source")
        }
    }

    /// The hosts and categories the catalogue must carry (from the public analyses).
    @Test(arguments: [
        ("flysafe-api.dji.com", "geofence"), ("flysafe.dji.com", "geofence"),
        ("mydjiflight.dji.com", "flight-logs telemetry firmware"), ("dev.dji.com", "flight-logs account"),
        ("statistical-report.djiservice.org", "telemetry"), ("active.dji.com", "account"),
        ("account.dji.com", "account"), ("account-api.dji.com", "account"),
        ("service-adhoc.dji.com", "app-update"), ("adhoc.djiservice.org", "app-update"),
        ("api.djiservice.org", "remote-config"), ("apigateway.djiservice.org", "remote-config"),
        ("content.djiservice.org", "other"), ("djigoapi.djiservice.org", "support"), ("repair.dji.com", "support"),
        ("service.dji.com", "support"), ("support.dji.com", "support"), ("www.skypixel.com", "media"),
        ("app-h5.dji.com", "other"), ("click.dji.com", "telemetry"), ("dl.djicdn.com", "firmware"),
    ])
    func requiredHost(host: String, categories: String) throws {
        let e = try #require(CatalogueIndex(loaded.0).match(domain: host), "\(host) not catalogued")
        #expect(e.vendorID == "dji")
        #expect(e.pattern.description == host, "\(host) matched only by \(e.pattern)")
        #expect(e.categories.map(\.rawValue).joined(separator: " ") == categories)
    }

    /// Subdomains nobody listed are still caught by the vendor's registrable domains.
    @Test(arguments: ["unlisted.dji.com", "x.djicdn.com", "y.djiservice.org", "z.skypixel.com"])
    func registrableDomainsCatchUnlistedSubdomains(host: String) {
        #expect(CatalogueIndex(loaded.0).match(domain: host)?.vendorID == "dji")
    }

    @Test func everyVendorHasItsOwnFileAndSeveralEndpoints() {
        let (catalogue, _) = loaded
        // Issue 4's list: the major drone vendors and the SDKs their apps embed.
        for id in ["dji", "autel", "parrot", "skydio", "yuneec", "mapbox", "airmap", "mobtech", "jpush", "weibo-sdk"] {
            #expect(catalogue.vendor(id) != nil, "vendor \(id) missing")
        }
        #expect(catalogue.files.count == catalogue.vendors.count, "one vendor per file")
        for v in catalogue.vendors {
            #expect(!v.endpoints.isEmpty, "vendor \(v.id) lists no endpoint")
            #expect(v.jurisdiction.count == 2)
        }
    }

    /// A dated version, shown by status and explain, that is not in the future.
    @Test func catalogueHasADatedVersion() throws {
        let version = try #require(loaded.0.version, "rules/vendors/VERSION missing")
        #expect(loaded.0.versionLabel == version, "the shipped directory holds no unversioned files")
        let date = String(version.prefix(10))
        #expect(date.count == 10 && date >= "2026-01-01")
    }

    /// No entry is a public suffix or covers one (Debian's publicsuffix list, ICANN and private
    /// sections: `github.io`, `s3.amazonaws.com`, `com.cn`, ...): that would claim every site under it.
    @Test func noEntryCoversAPublicSuffix() throws {
        let path = "/usr/share/publicsuffix/public_suffix_list.dat"
        let text = try #require(try? String(contentsOfFile: path, encoding: .utf8),
                                "\(path) missing: install the Debian package publicsuffix (scripts/packages.txt)")
        var suffixes = Set<String>()
        for line in text.split(whereSeparator: \.isNewline) {
            let rule = line.split(separator: " ").first.map(String.init) ?? ""
            guard !rule.isEmpty, !rule.hasPrefix("//"), !rule.hasPrefix("!") else { continue }
            suffixes.insert(rule.hasPrefix("*.") ? String(rule.dropFirst(2)) : rule)
        }
        #expect(suffixes.count > 5000 && suffixes.contains("github.io") && suffixes.contains("com.cn"), "the list looks truncated")
        var domains = loaded.0.endpoints.compactMap { e -> (String, DronewallConfig.SourceLocation)? in
            if case let .domain(d) = e.pattern { return (d, e.location) } else { return nil }
        }
        domains += loaded.0.resolvers.flatMap { r in r.names.map { ($0.value, $0.location) } }
        for (d, place) in domains {
            let covered = suffixes.filter { $0 == d || $0.hasSuffix("." + d) }
            #expect(covered.isEmpty, "\(d) (\(place)) covers the public suffix(es) \(covered.sorted().prefix(3))")
            #expect(SharedPlatforms.covered(by: d).isEmpty, "\(d) (\(place)) covers a shared platform")
        }
    }

    /// rules/resolvers.rules: the well-known public resolvers, each with a source, none of
    /// their names claimed by a vendor too.
    @Test func publicResolverListIsReadBesideTheVendors() throws {
        let resolvers = loaded.0.resolvers
        #expect(loaded.0.resolverFiles.count == 1 && loaded.0.resolverFiles[0].hasSuffix("rules/resolvers.rules"))
        #expect(resolvers.count >= 15)
        #expect(resolvers.allSatisfy { !$0.source.isEmpty })
        let names = Set(resolvers.flatMap { $0.names.map(\.value) })
        let addresses = Set(resolvers.flatMap { $0.addresses.map(\.value.description) })
        for n in ["dns.google", "cloudflare-dns.com", "dns.quad9.net", "dns.alidns.com", "doh.pub"] {
            #expect(names.contains(n), "\(n) missing")
        }
        for a in ["8.8.8.8", "1.1.1.1", "9.9.9.9", "223.5.5.5", "2001:4860:4860::8888"] {
            #expect(addresses.contains(a), "\(a) missing")
        }
        let index = CatalogueIndex(loaded.0)
        for n in names { #expect(index.match(domain: n) == nil, "\(n) is also claimed by a vendor") }
    }

    /// Shared third-party platforms are never claimed wholesale by a vendor.
    @Test(arguments: ["amazonaws.com", "cloudfront.net", "akamaized.net", "firebaseio.com", "googleapis.com",
                      "aliyuncs.com", "appspot.com", "azureedge.net", "fastly.net", "github.io"])
    func sharedPlatformsAreNotClaimed(apex: String) {
        #expect(CatalogueIndex(loaded.0).match(domain: "anything." + apex) == nil)
    }
}
