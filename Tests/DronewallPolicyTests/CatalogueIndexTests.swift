import DronewallConfig
import NetAddress
import Testing
@testable import DronewallPolicy

/// `CatalogueIndex.match(address:)` looks up one key per prefix length; a scan of every network
/// for the longest that contains the address must agree with it.
@Suite struct CatalogueIndexTests {
    static func scan(_ catalogue: Catalogue, _ address: IPNetwork) -> Endpoint? {
        var best: Endpoint?
        for e in catalogue.endpoints {
            guard case let .network(n) = e.pattern, n.contains(address) else { continue }
            if case let .network(b)? = best?.pattern, b.prefixLength >= n.prefixLength { continue }
            best = e
        }
        return best
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func longestPrefixAgreesWithAScan(seed: UInt64) throws {
        var rng = FlatteningEquivalenceTests.Seeded(state: seed)
        let roots = [try IPNetwork.parse("198.51.100.0/24"), try IPNetwork.parse("2001:db8::/32")]
        // Nested and unrelated networks of both families (the reader refuses a network listed twice).
        var text = "[vendor a]\nname = a\njurisdiction = US\nsource = s\n"
        var listed = Set<IPNetwork>()
        for _ in 0..<300 {
            let n = FlatteningEquivalenceTests.network(inside: roots.randomElement(using: &rng)!, &rng)
            guard listed.insert(n).inserted else { continue }
            let category = ["maps", "telemetry", "media"].randomElement(using: &rng)!
            text += "[endpoint \(n)]\ncategories = \(category)\nsource = s\n"
        }
        let (catalogue, diags) = CatalogueReader(reader: MemoryReader(["/c/a.rules": text])).read(directories: ["/c"])
        #expect(!diags.hasErrors, "\(diags.rendered)")
        let index = CatalogueIndex(catalogue)
        let scanning = CatalogueIndex(catalogue, addressLookups: false)
        var hits = 0
        for _ in 0..<2000 {
            let root = roots.randomElement(using: &rng)!
            // Addresses and networks inside the roots, and now and then one outside every entry.
            let probe = Int.random(in: 0..<10, using: &rng) == 0 ? try IPNetwork.parse(root.isIPv4 ? "192.0.2.1" : "2001:db9::1")
                : FlatteningEquivalenceTests.network(inside: root, &rng)
            let expected = Self.scan(catalogue, probe)
            let got = index.match(address: probe)
            #expect(got?.pattern == expected?.pattern, "\(probe)")
            #expect(scanning.match(address: probe)?.pattern == expected?.pattern, "\(probe), without the address dictionary")
            if expected != nil { hits += 1 }
        }
        #expect(hits > 100, "the probes hit catalogue networks")
    }
}
