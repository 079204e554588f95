import Testing
import Units

@Suite struct UnitsTests {
    @Test func durations() {
        #expect(Units.durationSeconds("90d") == Int64(90 * 86_400))
        #expect(Units.durationSeconds("24h") == 86_400)
        #expect(Units.durationSeconds("2w") == 1_209_600)
        #expect(Units.durationSeconds("45s") == 45)
        for bad in ["", "h", "5", "+5h", "-5h", "5x", "5 h", "٣h", "99999999999999999w"] {
            #expect(Units.durationSeconds(bad) == nil, "\(bad) should not parse")
        }
    }

    @Test func byteSizes() {
        #expect(Units.byteSize("1G") == 1 << 30)
        #expect(Units.byteSize("500M") == 500 << 20)
        #expect(Units.byteSize("64k") == 64 << 10)
        #expect(Units.byteSize("4096") == 4096)
        for bad in ["", "G", "+1G", "1T", "1.5G", "99999999999999G"] {
            #expect(Units.byteSize(bad) == nil, "\(bad) should not parse")
        }
    }
}

