import DronewallConfig
import NetAddress

/// Answers "which catalogue entry covers this name or address?".
/// Domains match themselves and their subdomains on label boundaries; the most
/// specific entry wins. Networks: the longest prefix wins.
public struct CatalogueIndex: Sendable {
    let byDomain: [String: Endpoint]
    let networks: [Endpoint]
    /// Network entries by network (the reader refuses one listed twice), and the prefix lengths
    /// present per family, longest first: a longest-prefix match looks up one key per length
    /// instead of scanning every network (100k in a large catalogue; the flow log asks per
    /// destination).
    /// The value is the entry's place in `networks`. Nil when the index was made without
    /// address lookups (then `match(address:)` scans).
    let byNetwork: [IPNetwork: Int]?
    let prefixLengthsV4: [Int], prefixLengthsV6: [Int]

    /// `addressLookups: false` for a caller that never asks `match(address:)` often (checking a
    /// config): 100k networks' dictionary is then not built, which is most of this index's
    /// memory and time.
    public init(_ catalogue: Catalogue, addressLookups: Bool = true) {
        var d: [String: Endpoint] = [:]
        var n: [Endpoint] = []
        var byNet: [IPNetwork: Int] = [:]
        if addressLookups { byNet.reserveCapacity(catalogue.endpoints.count) }
        // Whether each prefix length is present, per family (0...32, 0...128).
        var v4 = [Bool](repeating: false, count: 33), v6 = [Bool](repeating: false, count: 129)
        for e in catalogue.endpoints {
            switch e.pattern {
            case let .domain(name): d[name] = e
            case let .network(net):
                if addressLookups, byNet.index(forKey: net) == nil { byNet[net] = n.count }
                n.append(e)
                if net.isIPv4 { v4[net.prefixLength] = true } else { v6[net.prefixLength] = true }
            }
        }
        byDomain = d
        networks = n
        byNetwork = addressLookups ? byNet : nil
        prefixLengthsV4 = v4.indices.reversed().filter { v4[$0] }
        prefixLengthsV6 = v6.indices.reversed().filter { v6[$0] }
    }

    /// The most specific entry for a host name (case-insensitive, trailing dot ignored).
    public func match(domain: String) -> Endpoint? {
        var name = domain.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return HostPattern.domainAndParents(name).lazy.compactMap { byDomain[String($0)] }.first
    }

    /// The most specific network entry containing `address`.
    public func match(address: IPNetwork) -> Endpoint? {
        guard let byNetwork else {
            return networks.lazy.compactMap { e -> (Int, Endpoint)? in
                guard case let .network(n) = e.pattern, n.contains(address) else { return nil }
                return (n.prefixLength, e)
            }.max { $0.0 < $1.0 }?.1
        }
        for length in address.isIPv4 ? prefixLengthsV4 : prefixLengthsV6 where length <= address.prefixLength {
            if let i = byNetwork[IPNetwork(value: address.value, prefixLength: length, isIPv4: address.isIPv4)] { return networks[i] }
        }
        return nil
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
}
