import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import NetAddress

/// What `check` and `show` rely on: which texts are addresses, how they print, and what the
/// interval maps are built from (first and last address, containment).
@Suite struct IPNetworkTests {
    func net(_ s: String) throws -> IPNetwork { try IPNetwork.parse(s) }

    @Test func printsTheCanonicalForm() throws {
        let cases = [
            ("192.0.2.1", "192.0.2.1"), ("192.0.2.0/24", "192.0.2.0/24"), ("0.0.0.0/0", "0.0.0.0/0"),
            ("255.255.255.255", "255.255.255.255"), ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("0:0:0:0:0:0:0:0", "::"), ("::/0", "::/0"), ("2001:0db8::/32", "2001:db8::/32"),
            ("::192.0.2.1", "::c000:201"), ("2001:db8::192.0.2.1", "2001:db8::c000:201"), ("1::", "1::"),
            ("fe80:0:0:0:1:0:0:0", "fe80::1:0:0:0"), ("0:0:1:0:0:0:1:0", "0:0:1::1:0"),
        ]
        for (text, shown) in cases { #expect(try net(text).description == shown, "\(text)") }
    }

    @Test func refusesWhatIsNotAnAddress() {
        for text in ["", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "1.2.3.4.", ".1.2.3.4", "1..2.3",
                     "1234.1.1.1", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", "12345::", "::g",
                     "1.2.3.4::", ":::", "1:", ":1", "1:2:3:4:5:6:7", "::1.2.3", "1.2.3.4:1::",
                     "١٢.0.0.1", "192.0.2.1\u{301}", "example.org", "2001:db8::1:1.2.3.4:5",
                     String(repeating: "0", count: 42) + "::1"] {
            #expect(throws: AddressParseError.notAnAddress, "\(text)") { try IPNetwork.parse(text) }
        }
    }

    @Test func namesTheProblemWithAPrefix() throws {
        #expect(throws: AddressParseError.badPrefixLength(maximum: 32)) { try IPNetwork.parse("192.0.2.0/33") }
        #expect(throws: AddressParseError.badPrefixLength(maximum: 32)) { try IPNetwork.parse("192.0.2.0/") }
        #expect(throws: AddressParseError.badPrefixLength(maximum: 32)) { try IPNetwork.parse("192.0.2.0/2é") }
        #expect(throws: AddressParseError.badPrefixLength(maximum: 32)) { try IPNetwork.parse("192.0.2.0/24/1") }
        #expect(throws: AddressParseError.badPrefixLength(maximum: 128)) { try IPNetwork.parse("2001:db8::/129") }
        #expect(throws: AddressParseError.badPrefixLength(maximum: 128)) { try IPNetwork.parse("2001:db8::/0032") }
        #expect(throws: AddressParseError.hostBitsSet(network: "192.0.2.0/24")) { try IPNetwork.parse("192.0.2.1/24") }
        #expect(throws: AddressParseError.hostBitsSet(network: "2001:db8::/32")) { try IPNetwork.parse("2001:db8::1/32") }
        #expect(throws: AddressParseError.ipv4Mapped("192.0.2.1")) { try IPNetwork.parse("::ffff:192.0.2.1") }
        #expect(throws: AddressParseError.ipv4Mapped("192.0.2.0")) { try IPNetwork.parse("::ffff:c000:200/120") }
        // A combining mark after "/" makes one character with it: no prefix, so not an address.
        #expect(throws: AddressParseError.notAnAddress) { try IPNetwork.parse("192.0.2.0/\u{301}24") }
        #expect(try IPNetwork.parse("192.0.2.0/024").prefixLength == 24)
    }

    @Test func givesTheBytesAndEndsOfANetwork() throws {
        let v4 = try net("198.51.100.0/22")
        #expect(v4.bytes == [198, 51, 100, 0] && v4.first == v4.bytes)
        #expect(v4.last == [198, 51, 103, 255])
        #expect(IPNetwork(bytes: [198, 51, 101, 7], prefixLength: 22) == v4)
        let v6 = try net("2001:db8:ab00::/40")
        #expect(v6.bytes == [0x20, 0x01, 0x0d, 0xb8, 0xab] + [UInt8](repeating: 0, count: 11))
        #expect(v6.last == [0x20, 0x01, 0x0d, 0xb8, 0xab] + [UInt8](repeating: 0xff, count: 11))
        #expect(try net("0.0.0.0/0").last == [255, 255, 255, 255])
        #expect(try net("192.0.2.7").last == [192, 0, 2, 7])
        #expect(IPNetwork.format(address: v6.last) == "2001:db8:abff:ffff:ffff:ffff:ffff:ffff")
        // An IPv4 network and the IPv6 one with the same leading bytes are different networks.
        #expect(try net("32.1.13.184/32") != net("2001:db8::/32"))
        #expect(try net("192.0.2.0/24").nat64Image(under: net("64:ff9b::/96")) == net("64:ff9b::c000:200/120"))
    }

    @Test func knowsContainmentAndOverlap() throws {
        let wide = try net("203.0.113.0/24"), inner = try net("203.0.113.64/26"), other = try net("198.51.100.0/24")
        #expect(wide.contains(inner) && !inner.contains(wide) && wide.contains(wide))
        #expect(wide.overlaps(inner) && inner.overlaps(wide) && !wide.overlaps(other))
        #expect(try net("0.0.0.0/0").contains(other) && !net("::/0").contains(other))
        #expect(try net("2001:db8::/32").contains(net("2001:db8:1::1")) && !net("2001:db8::/33").contains(net("2001:db8:8000::")))
    }

    /// Random addresses print as glibc's inet_ntop prints them (RFC 5952) and read back as themselves.
    @Test func printsAsInetNtopAndReadsBack() throws {
        // A fixed-seed linear congruential sequence (Knuth's MMIX constants), so a failure repeats.
        var state: UInt64 = 0x5EED
        func next() -> UInt64 { state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407; return state >> 17 }
        for round in 0..<3000 {
            var bytes = (0..<16).map { _ in UInt8(truncatingIfNeeded: next()) }
            // Runs of zero groups, so that "::" is placed, and ties between runs, are exercised.
            for g in 0..<8 where next() % 3 == 0 { bytes[2 * g] = 0; bytes[2 * g + 1] = 0 }
            let isV4 = round % 4 == 0
            let address = isV4 ? Array(bytes[0..<4]) : bytes
            let shown = IPNetwork(bytes: address, prefixLength: address.count * 8).description
            var buffer = [CChar](repeating: 0, count: 64)
            _ = inet_ntop(isV4 ? AF_INET : AF_INET6, address, &buffer, 64)
            let glibc = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // glibc writes an IPv4 tail for ::a.b.c.d and ::ffff:a.b.c.d; dronewall never does.
            if !glibc.contains(".") || isV4 { #expect(shown == glibc) }
            let mapped = !isV4 && bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
            if !mapped { #expect(try IPNetwork.parse(shown).bytes == address) }
            let length = Int(next() % UInt64(address.count * 8 + 1))
            let network = IPNetwork(bytes: address, prefixLength: length)
            if !mapped || length < 96 { #expect(try IPNetwork.parse(network.description) == network) }
        }
    }
}
