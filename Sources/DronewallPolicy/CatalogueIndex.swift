import DronewallConfig
import NetAddress

/// Answers "which catalogue entry covers this name or address?".
/// Domains match themselves and their subdomains on label boundaries; the most
/// specific entry wins. Networks: the longest prefix wins.
public struct CatalogueIndex: Sendable {
    let byDomain: [String: Endpoint]
    let networks: [Endpoint]

    public init(_ catalogue: Catalogue) {
        var d: [String: Endpoint] = [:]
        var n: [Endpoint] = []
        for e in catalogue.endpoints {
            switch e.pattern {
            case let .domain(name): d[name] = e
            case .network: n.append(e)
            }
        }
        byDomain = d
        networks = n
    }

    /// The most specific entry for a host name (case-insensitive, trailing dot ignored).
    public func match(domain: String) -> Endpoint? {
        var name = domain.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return HostPattern.domainAndParents(name).lazy.compactMap { byDomain[String($0)] }.first
    }

    /// The most specific network entry containing `address`.
    public func match(address: IPNetwork) -> Endpoint? {
        networks.filter {
            if case let .network(n) = $0.pattern { return n.contains(address) } else { return false }
        }.max { a, b in prefix(a) < prefix(b) }
    }

    /// A name or an address, as `dronewall explain` takes it.
    public func match(query: String) -> Endpoint? {
        if let net = try? IPNetwork.parse(query) { return match(address: net) }
        return match(domain: query)
    }

    /// All endpoints whose categories intersect `mask` and also `other`, sorted by how they are
    /// written. Filtered before sorting, and each written form made once: with a catalogue of
    /// 100k networks most serve neither.
    public func endpoints(serving mask: UInt32, alsoServing other: UInt32 = .max) -> [Endpoint] {
        var hits: [(String, Endpoint)] = []
        for e in byDomain.values where e.mask & mask != 0 && e.mask & other != 0 { hits.append((e.pattern.description, e)) }
        for e in networks where e.mask & mask != 0 && e.mask & other != 0 { hits.append((e.pattern.description, e)) }
        return hits.sorted { $0.0 < $1.0 }.map(\.1)
    }

    private func prefix(_ e: Endpoint) -> Int {
        if case let .network(n) = e.pattern { return n.prefixLength }
        return -1
    }
}
