import Testing
import NetAddress
@testable import DronewallPolicy

/// The sweep in `IntervalFlattening` against the quadratic `ReferenceFlattening` it replaced:
/// the same pieces, values and order for random nested, overlapping and repeated networks of
/// both families.
@Suite struct FlatteningEquivalenceTests {
    /// A seeded generator (Knuth's MMIX LCG, high half folded in), so a failing seed repeats.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state ^ (state >> 32)
        }
    }

    /// A network inside `outer` (or `outer` itself), up to 12 bits longer; its new bits are all
    /// zeros, all ones or random, so networks at either end of their parent (and of the address
    /// space) come up often.
    static func network(inside outer: IPNetwork, _ rng: inout Seeded) -> IPNetwork {
        let width = outer.bytes.count * 8
        let length = min(width, outer.prefixLength + Int.random(in: 0...12, using: &rng))
        let fill = Int.random(in: 0..<4, using: &rng)
        var bytes = outer.bytes
        for bit in outer.prefixLength..<length where fill == 1 || (fill > 1 && Bool.random(using: &rng)) {
            bytes[bit / 8] |= UInt8(0x80 >> (bit % 8))
        }
        return IPNetwork(bytes: bytes, prefixLength: length)
    }

    /// Up to `size` networks grown from one to three random roots (IPv4, IPv6 or both; an IPv6
    /// root may begin with an IPv4 root's four bytes), each inside a root or an earlier network,
    /// one in eight a repeat of an earlier network; random marks.
    static func randomItems(size: Int, _ rng: inout Seeded) -> [(IPNetwork, UInt32)] {
        let families = Int.random(in: 0..<3, using: &rng) // IPv4, IPv6, both
        var roots: [IPNetwork] = []
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            let v4 = families == 0 || (families == 2 && Bool.random(using: &rng))
            var bytes = (0..<(v4 ? 4 : 16)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if !v4, let r = roots.first(where: \.isIPv4), Bool.random(using: &rng) {
                bytes.replaceSubrange(0..<4, with: r.bytes)
            }
            roots.append(IPNetwork(bytes: bytes, prefixLength: Int.random(in: 0...bytes.count * 8, using: &rng)))
        }
        var items: [(IPNetwork, UInt32)] = []
        for _ in 0..<Int.random(in: 0...size, using: &rng) {
            let mark = UInt32.random(in: 0...UInt32.max, using: &rng)
            if let earlier = items.randomElement(using: &rng), Int.random(in: 0..<8, using: &rng) == 0 {
                items.append((earlier.0, mark))
            } else {
                let outer = items.isEmpty || Bool.random(using: &rng)
                    ? roots.randomElement(using: &rng)! : items.randomElement(using: &rng)!.0
                items.append((network(inside: outer, &rng), mark))
            }
        }
        return items
    }

    func expectSame(_ items: [(IPNetwork, UInt32)], _ label: String) {
        let new = IntervalFlattening.flatten(items), old = ReferenceFlattening.flatten(items)
        #expect(new.map(\.0) == old.map(\.0) && new.map(\.1) == old.map(\.1),
                "\(label): \(items.map { "\($0.0) \($0.1)" })\nsweep:     \(new.map { "\($0.0) \($0.1)" })\nreference: \(old.map { "\($0.0) \($0.1)" })")
    }

    @Test func randomNetworksFlattenAsTheReferenceDoes() {
        for seed in UInt64(1)...1500 {
            var rng = Seeded(state: seed)
            expectSame(Self.randomItems(size: 40, &rng), "seed \(seed)")
        }
    }

    @Test func largeRandomCataloguesFlattenAsTheReferenceDoes() {
        for seed in UInt64(1)...6 {
            var rng = Seeded(state: seed &* 0x9E37_79B9)
            expectSame(Self.randomItems(size: 400, &rng), "large seed \(seed)")
        }
    }

    @Test(arguments: [
        [],
        ["0.0.0.0/0"],
        ["0.0.0.0/0", "0.0.0.0/32", "255.255.255.255/32"],
        ["255.255.255.0/24", "255.255.255.255/32", "255.255.255.254/31"],
        ["::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "::/128"],
        ["ffff:ffff:ffff:ffff::/64", "ffff:ffff:ffff:ffff:8000::/65", "ffff:ffff:ffff:ffff:ffff:ffff::/96"],
        // The families interleave where an IPv6 network's first four bytes are an IPv4 network's.
        ["203.0.113.0/24", "cb00:7100::/24", "203.0.113.16/28", "cb00:7110::/32", "0.0.0.0/0", "::/0", "cb00:7111::/32"],
        ["203.0.113.0/24", "203.0.113.0/24", "203.0.113.16/28", "203.0.113.16/28", "203.0.113.0/25"],
    ])
    func edgesFlattenAsTheReferenceDoes(networks: [String]) throws {
        let items = try networks.enumerated().map { (try IPNetwork.parse($0.element), UInt32($0.offset)) }
        expectSame(items, "\(networks)")
    }
}
