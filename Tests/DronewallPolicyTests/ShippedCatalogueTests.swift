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
        let psl = try PublicSuffixes.load()
        let suffixes = psl.rules
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

    /// A registrable domain (one label below a public suffix: `dji.com`, `autelrobotics.cn`,
    /// `mi-ae.com.de`) is a catch-all: it matches every host under it that nobody has named. So it is
    /// exactly `other`. A specific category belongs on the specific host a public source shows;
    /// on the catch-all it would open (or close) a whole domain of unknown hosts with that category.
    @Test func registrableDomainCatchAllsAreExactlyOther() throws {
        let psl = try PublicSuffixes.load()
        var apexes = 0
        for e in loaded.0.endpoints {
            guard case let .domain(d) = e.pattern, psl.registrableDomain(of: d) == d else { continue }
            apexes += 1
            #expect(e.categories.map(\.rawValue) == ["other"],
                    """
                    \(d) (\(e.location)) is a registrable domain, a catch-all for unnamed hosts: its \
                    categories must be exactly 'other', not \(e.categories.map(\.rawValue)). Put specific \
                    categories on the specific hosts a public source shows.
                    """)
        }
        #expect(apexes >= 20, "only \(apexes) registrable-domain entries found: the public-suffix reading looks wrong")
    }

    /// The registrable-domain reading the lint above relies on.
    @Test(arguments: [
        ("dji.com", "dji.com"), ("a.b.flysafe-api.dji.com", "dji.com"), ("autelrobotics.cn", "autelrobotics.cn"),
        ("www.yuneec.com", "yuneec.com"), ("fimiapp-server-frankfurt.mi-ae.com.de", "mi-ae.com.de"),
        ("djigo4-f53cb.firebaseio.com", "firebaseio.com"), ("p.firebaseapp.com", "p.firebaseapp.com"),
        ("x.y.ck", "x.y.ck"), ("a.www.ck", "www.ck"), ("dji.ink", "dji.ink"), ("flysafe.dbeta.me", "dbeta.me"),
    ])
    func registrableDomainOfAName(name: String, registrable: String) throws {
        #expect(try PublicSuffixes.load().registrableDomain(of: name) == registrable)
    }

    @Test(arguments: ["com", "com.cn", "github.io", "ck", "y.ck"])
    func aPublicSuffixHasNoRegistrableDomain(name: String) throws {
        #expect(try PublicSuffixes.load().registrableDomain(of: name) == nil)
    }

    /// Third-party services that drone apps call are filed under their own vendor, never the drone
    /// maker's, each host with its own categories.
    @Test(arguments: [
        ("api.airmap.io", "airmap", "geofence maps account"), ("cdn.airmap.io", "airmap", "geofence"),
        ("api.airmap.com", "airmap", "geofence maps account"), ("api.maptiler.com", "maptiler", "maps"),
        ("maps.googleapis.com", "google-maps", "other"), ("ditu.google.cn", "google-maps", "maps"), ("restapi.amap.com", "amap", "maps"),
        ("api.mapbox.com", "mapbox", "maps"),
    ])
    func thirdPartyHostsHaveTheirOwnVendor(host: String, vendor: String, categories: String) throws {
        let e = try #require(CatalogueIndex(loaded.0).match(domain: host), "\(host) not catalogued")
        #expect(e.vendorID == vendor)
        #expect(e.pattern.description == host, "\(host) matched only by \(e.pattern)")
        #expect(e.categories.map(\.rawValue).joined(separator: " ") == categories)
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

/// Debian's public suffix list (`publicsuffix` package), ICANN and private sections, read as written:
/// plain rules, wildcard rules (`*.ck`) and exceptions (`!www.ck`).
struct PublicSuffixes {
    static let path = "/usr/share/publicsuffix/public_suffix_list.dat"
    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "\(PublicSuffixes.path) missing or truncated: install the Debian package publicsuffix "
                + "(scripts/packages.txt)"
        }
    }
    var plain = Set<String>(), wildcard = Set<String>(), exception = Set<String>()

    static func load() throws -> PublicSuffixes {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw Missing() }
        var psl = PublicSuffixes()
        for line in text.split(whereSeparator: \.isNewline) {
            let rule = line.split(separator: " ").first.map(String.init) ?? ""
            if rule.isEmpty || rule.hasPrefix("//") { continue }
            if rule.hasPrefix("!") { psl.exception.insert(String(rule.dropFirst())) }
            else if rule.hasPrefix("*.") { psl.wildcard.insert(String(rule.dropFirst(2))) }
            else { psl.plain.insert(rule) }
        }
        guard psl.rules.count > 5000, psl.rules.contains("github.io"), psl.rules.contains("com.cn") else {
            throw Missing()
        }
        return psl
    }

    /// Every rule as a domain (a wildcard rule `*.ck` as `ck`), exceptions left out.
    var rules: Set<String> { plain.union(wildcard) }

    /// The public suffix of `name` by the list's algorithm: the longest matching rule, an exception
    /// rule beating a wildcard, and `*` (the last label) when nothing matches.
    func publicSuffix(of name: String) -> [Substring] {
        let labels = name.lowercased().split(separator: ".")
        for i in labels.indices {
            let candidate = labels[i...].joined(separator: ".")
            if exception.contains(candidate) { return Array(labels[(i + 1)...]) }
            if plain.contains(candidate) { return Array(labels[i...]) }
            if i > 0, wildcard.contains(candidate) { return Array(labels[(i - 1)...]) }
        }
        return Array(labels.suffix(1))
    }

    /// The registrable domain of `name` (its public suffix plus one label), or nil when `name` is
    /// itself a public suffix.
    func registrableDomain(of name: String) -> String? {
        let labels = name.lowercased().split(separator: ".")
        let suffix = publicSuffix(of: name)
        guard labels.count > suffix.count else { return nil }
        return labels.suffix(suffix.count + 1).joined(separator: ".")
    }
}
