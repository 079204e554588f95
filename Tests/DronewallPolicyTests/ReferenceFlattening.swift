import NetAddress

/// The first `IntervalFlattening.flatten`, kept as the specification the sweep is tested against:
/// every network compared with every later one (quadratic) and split in halves around each
/// network inside it. Slow, but plainly right.
enum ReferenceFlattening {
    static func flatten<V>(_ items: [(IPNetwork, V)]) -> [(IPNetwork, V)] {
        // Widest first, so every network is split by the more specific ones inside it.
        let sorted = items.sorted { $0.0.prefixLength < $1.0.prefixLength }
        var out: [(IPNetwork, V)] = []
        for (i, (net, value)) in sorted.enumerated() {
            let inner = sorted[(i + 1)...].map(\.0).filter { net.contains($0) && $0 != net }
            var pieces = [net]
            for hole in inner { pieces = pieces.flatMap { subtract(hole, from: $0) } }
            out += pieces.map { ($0, value) }
        }
        return out.sorted { $0.0.bytes.lexicographicallyPrecedes($1.0.bytes) }
    }

    /// `net` without `hole`, as the list of disjoint prefixes that remain.
    static func subtract(_ hole: IPNetwork, from net: IPNetwork) -> [IPNetwork] {
        if !net.overlaps(hole) { return [net] }
        if hole.contains(net) { return [] }
        // Split into halves; keep the half without the hole, recurse into the other.
        let len = net.prefixLength + 1
        let low = IPNetwork(bytes: net.bytes, prefixLength: len)
        var highBytes = net.bytes
        highBytes[net.prefixLength / 8] |= UInt8(0x80 >> (net.prefixLength % 8))
        let high = IPNetwork(bytes: highBytes, prefixLength: len)
        return subtract(hole, from: low) + subtract(hole, from: high)
    }
}
