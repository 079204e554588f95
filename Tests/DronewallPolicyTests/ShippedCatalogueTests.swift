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

    @Test func readsWithoutErrorsAndEveryEntryCitesASource() {
        let (catalogue, diags) = loaded
        #expect(!diags.hasErrors, "\(diags.rendered)")
        #expect(catalogue.vendor("dji") != nil)
        for e in catalogue.endpoints {
            #expect(!e.categories.isEmpty, "\(e.pattern) has no categories")
            #expect(!e.source.isEmpty, "\(e.pattern) has no source")
        }
    }

    /// The hosts and categories the catalogue must carry (from the public analyses).
    @Test(arguments: [
        ("flysafe-api.dji.com", "geofence"), ("flysafe.dji.com", "geofence"),
        ("mydjiflight.dji.com", "flight-logs telemetry firmware"), ("dev.dji.com", "flight-logs"),
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

    /// Shared third-party platforms are never claimed wholesale by a vendor.
    @Test(arguments: ["amazonaws.com", "cloudfront.net", "akamaized.net", "firebaseio.com", "googleapis.com",
                      "aliyuncs.com", "appspot.com", "azureedge.net", "fastly.net", "github.io"])
    func sharedPlatformsAreNotClaimed(apex: String) {
        #expect(CatalogueIndex(loaded.0).match(domain: "anything." + apex) == nil)
    }
}
