import Testing
@testable import DronewallConfig

/// The reader takes files an admin typed; whatever the bytes, it must report, not crash.
@Suite struct RobustnessTests {
    /// A small deterministic generator (SplitMix64) so failures reproduce.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let seed = """
        [station]
        drone-interfaces = wlan0 usb0
        [drone a-1]
        mac = 60:60:1f:12:34:56
        address = 192.0.2.0/28 2001:db8::/64
        policy = local-data
        allow = firmware
        allow-host = tiles.example.org
        """

    @Test func mutatedConfigsNeverCrashAndEveryErrorHasAPlace() {
        var rng = Rng(state: 20261125)
        let base = Array(RobustnessTests.seed.utf8)
        let alphabet = Array("[]=# \n\t:/.-abcxyz019\u{FF}".utf8)
        for _ in 0..<3000 {
            var bytes = base
            for _ in 0..<(1 + rng.below(8)) {
                switch rng.below(3) {
                case 0 where !bytes.isEmpty: bytes.remove(at: rng.below(bytes.count))
                case 1: bytes.insert(alphabet[rng.below(alphabet.count)], at: rng.below(bytes.count + 1))
                default: if !bytes.isEmpty { bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next()) }
                }
            }
            let (_, diags) = ConfigReader(reader: MemoryReader(bytes: ["/f.conf": bytes])).read(mainPath: "/f.conf")
            for d in diags.errors {
                #expect(d.location != nil, "error without a place: \(d.message)")
                _ = d.description
            }
        }
    }
}
