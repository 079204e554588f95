/// Hand-written DNS messages. Each byte group has a comment; offsets are given where later
/// compression pointers refer to them. The tests check each fixture's length, so a slip in
/// the arithmetic shows up at once.

/// A length-prefixed label.
func label(_ s: String) -> [UInt8] { [UInt8(s.utf8.count)] + Array(s.utf8) }

enum Fixture {
    /// Response to `FlySafe-API.dji.com A` (mixed case, as a 0x20 client sends it): a CNAME
    /// chain through a CDN, every owner name compressed, then A and AAAA. 135 bytes.
    static let cnameChain: [UInt8] =
        [0xBE, 0xEF,             // id
         0x81, 0x80,             // QR RD RA, NOERROR
         0x00, 0x01,             // qdcount 1
         0x00, 0x04,             // ancount 4
         0x00, 0x00, 0x00, 0x00] // nscount, arcount
        // @12 question: FlySafe-API.dji.com A IN (21 + 4 bytes)
        + label("FlySafe-API") + label("dji") + label("com") + [0x00]
        + [0x00, 0x01, 0x00, 0x01]
        // @37 answer 1: owner -> @12, CNAME IN ttl 300, rdlength 25
        + [0xC0, 0x0C, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 25]
        // @49 flysafe.cdn.example.net ("cdn" at @57)
        + label("flysafe") + label("cdn") + label("example") + label("net") + [0x00]
        // @74 answer 2: owner -> @49, CNAME IN ttl 60, rdlength 5
        + [0xC0, 49, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 5]
        // @86 e1 + pointer -> @57 (cdn.example.net)
        + label("e1") + [0xC0, 57]
        // @91 answer 3: owner -> @86 (e1.cdn.example.net), A IN ttl 20, 203.0.113.7
        + [0xC0, 86, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x14, 0x00, 4]
        + [203, 0, 113, 7]
        // @107 answer 4: owner -> @86, AAAA IN ttl 20, 2001:db8::7
        + [0xC0, 86, 0x00, 0x1C, 0x00, 0x01, 0x00, 0x00, 0x00, 0x14, 0x00, 16]
        + [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07]

    /// Response to `api.example.org HTTPS`: ServiceMode priority 1, target "." (the owner),
    /// alpn h2, ipv4hint 192.0.2.1 192.0.2.2, ipv6hint 2001:db8::1. 87 bytes.
    static let https: [UInt8] =
        [0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00] // id, QR RD RA, 1 q, 1 an
        // @12 question api.example.org HTTPS IN
        + label("api") + label("example") + label("org") + [0x00]
        + [0x00, 0x41, 0x00, 0x01]
        // @33 answer: owner -> @12, type 65, IN, ttl 300, rdlength 42
        + [0xC0, 0x0C, 0x00, 0x41, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 42]
        // @45 RDATA: priority 1, target root
        + [0x00, 0x01, 0x00]
        + [0x00, 0x01, 0x00, 0x03] + label("h2")                    // key 1 alpn, "h2"
        + [0x00, 0x04, 0x00, 0x08, 192, 0, 2, 1, 192, 0, 2, 2]      // key 4 ipv4hint
        + [0x00, 0x06, 0x00, 0x10,                                  // key 6 ipv6hint
           0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]

    /// Query `dji.com A` with EDNS0: payload 1232, DO set, one COOKIE option. 48 bytes.
    static let ednsQuery: [UInt8] =
        [0xAB, 0xCD, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01] // id, RD AD, 1 q, 1 ar
        // @12 question dji.com A IN
        + label("dji") + label("com") + [0x00] + [0x00, 0x01, 0x00, 0x01]
        // @25 OPT: root owner, type 41, class = payload 1232, ttl: ext-rcode 0, version 0, DO
        + [0x00, 0x00, 0x29, 0x04, 0xD0, 0x00, 0x00, 0x80, 0x00, 0x00, 12]
        // option 10 (COOKIE), 8 bytes of client cookie
        + [0x00, 0x0A, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8]

    /// NXDOMAIN for `nope.example.com A`, SOA of example.com in authority with compressed
    /// names. 85 bytes.
    static let nxdomain: [UInt8] =
        [0x00, 0x07, 0x81, 0x83, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00] // QR RD RA NXDOMAIN, 1 q, 1 ns
        // @12 question nope.example.com A IN ("example" at @17)
        + label("nope") + label("example") + label("com") + [0x00] + [0x00, 0x01, 0x00, 0x01]
        // @34 authority: owner -> @17, SOA IN ttl 900, rdlength 39
        + [0xC0, 17, 0x00, 0x06, 0x00, 0x01, 0x00, 0x00, 0x03, 0x84, 0x00, 39]
        // @46 mname ns1 -> @17, rname hostmaster -> @17
        + label("ns1") + [0xC0, 17] + label("hostmaster") + [0xC0, 17]
        // serial, refresh, retry, expire, minimum
        + [0x78, 0x49, 0x4A, 0x01, 0x00, 0x00, 0x1C, 0x20, 0x00, 0x00, 0x0E, 0x10,
           0x00, 0x12, 0x75, 0x00, 0x00, 0x00, 0x03, 0x84]

    static let all: [(String, [UInt8])] = [("cnameChain", cnameChain), ("https", https),
                                           ("ednsQuery", ednsQuery), ("nxdomain", nxdomain)]
}

/// SplitMix64: a small seeded generator, so random tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
