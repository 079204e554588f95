import Testing
@testable import DNSWire

/// Parse must return or throw on anything; a message that parses encodes to bytes that parse
/// back to an equal message.
func checkRoundTrip(_ bytes: [UInt8]) -> Bool {
    guard let m = try? DNSMessage.parse(bytes) else { return false }
    do {
        let again = try DNSMessage.parse(try m.encode())
        #expect(again == m, "round trip differs for \(bytes)")
    } catch {
        Issue.record("parsed message does not re-encode/re-parse: \(error) for \(bytes)")
    }
    return true
}

@Suite struct RandomTests {
    @Test func randomGarbage() {
        var rng = SplitMix64(seed: 0xD0_0E_5E_ED)
        var parsed = 0
        for _ in 0 ..< 100_000 {
            let n = Int.random(in: 0 ... 600, using: &rng)
            var bytes = [UInt8](repeating: 0, count: n)
            for i in 0 ..< n { bytes[i] = UInt8.random(in: 0 ... 255, using: &rng) }
            // Half of them get small counts, so the parser gets past the header.
            if n >= 12, Bool.random(using: &rng) {
                for i in 4 ..< 12 { bytes[i] = i % 2 == 0 ? 0 : UInt8.random(in: 0 ... 3, using: &rng) }
            }
            if checkRoundTrip(bytes) { parsed += 1 }
        }
        // Random bytes are almost never a message; this only shows the loop ran.
        #expect(parsed < 100_000)
    }

    @Test func mutatedFixtures() {
        var rng = SplitMix64(seed: 42)
        var parsed = 0
        for i in 0 ..< 100_000 {
            var bytes = Fixture.all[i % Fixture.all.count].1
            for _ in 0 ..< Int.random(in: 1 ... 4, using: &rng) {
                switch Int.random(in: 0 ..< 4, using: &rng) {
                case 0: // bit flip
                    let at = Int.random(in: 0 ..< bytes.count, using: &rng)
                    bytes[at] ^= 1 << UInt8.random(in: 0 ..< 8, using: &rng)
                case 1: // byte insert
                    bytes.insert(UInt8.random(in: 0 ... 255, using: &rng), at: Int.random(in: 0 ... bytes.count, using: &rng))
                case 2: // byte delete
                    if !bytes.isEmpty { bytes.remove(at: Int.random(in: 0 ..< bytes.count, using: &rng)) }
                default: // byte set to an interesting value
                    let at = Int.random(in: 0 ..< bytes.count, using: &rng)
                    bytes[at] = [0, 1, 0x3F, 0x40, 0x7F, 0x80, 0xC0, 0xFF].randomElement(using: &rng)!
                }
                if bytes.isEmpty { break }
            }
            if checkRoundTrip(bytes) { parsed += 1 }
        }
        // Many single flips land in TTLs, ids and addresses and still parse.
        #expect(parsed > 1000)
    }
}
