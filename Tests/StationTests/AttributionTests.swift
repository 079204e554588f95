import DronewallConfig
import DronewallPolicy
import FlowLog
import NetAddress
import Netfilter
@testable import Station
import Testing
import KernelLayout

/// A logged packet becomes the event a user reads in the report, the same for the thousandth
/// packet of a flood as for the first.
@Suite struct AttributionTests {
    static func packet(prefix: String = "dw drone=a cat=maps ", to destination: [UInt8] = [203, 0, 113, 7],
                       from source: [UInt8] = [192, 0, 2, 10]) -> NflogEvent {
        var e = NflogEvent(group: 7140, prefix: prefix)
        e.packet = PacketSummary(isIPv6: false, proto: .udp, source: source, destination: destination,
                                 sourcePort: 40000, destinationPort: 443, length: 92)
        return e
    }

    @Test func everyPacketOfAFloodIsAttributedLikeTheFirst() throws {
        let index = CatalogueIndex(try StationTests.snapshot().catalogue)
        let attribution = Attribution(index: index)
        let first = try #require(attribution.event(Self.packet(), receivedMicros: 1))
        #expect(first.drone == "a" && first.reason == .category(.maps) && first.verdict == .blocked)
        #expect(first.vendor == "acme" && first.destination == "203.0.113.7" && first.source == "192.0.2.10")
        for _ in 0..<3 { #expect(attribution.event(Self.packet(), receivedMicros: 1) == first) }
        // Other drones, verdicts and addresses are told apart, not served from the first answer.
        let other = try #require(attribution.event(Self.packet(prefix: "dw drone=b cat=telemetry would-block ",
                                                               to: [198, 51, 100, 9], from: [192, 0, 2, 11]),
                                                   receivedMicros: 1))
        #expect(other.drone == "b" && other.reason == .category(.telemetry) && other.verdict == .wouldBlock)
        #expect(other.vendor == nil && other.destination == "198.51.100.9" && other.source == "192.0.2.11")
        let v6 = try #require(attribution.event(Self.packet(to: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1],
                                                            from: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [2]),
                                                receivedMicros: 1))
        #expect(v6.destination == "2001:db8::1" && v6.source == "2001:db8::2")
    }

    @Test func packetsOfOtherRulesAreLeftOutEveryTime() throws {
        let attribution = Attribution(index: CatalogueIndex(Catalogue()))
        for _ in 0..<2 {
            #expect(attribution.event(Self.packet(prefix: "IN=eth0 DROP "), receivedMicros: 1) == nil)
            #expect(attribution.event(Self.packet(prefix: "dw drone=a cat=no-such-category "), receivedMicros: 1) == nil)
        }
    }

    @Test func aNameLearnedAfterTheFirstPacketNamesTheNextOnes() throws {
        let index = CatalogueIndex(try StationTests.snapshot().catalogue)
        let learned = Learned()
        let attribution = Attribution(index: index, hostName: { _ in learned.name })
        let before = try #require(attribution.event(Self.packet(to: [198, 51, 100, 9]), receivedMicros: 1))
        learned.name = "api.acme.example"
        let after = try #require(attribution.event(Self.packet(to: [198, 51, 100, 9]), receivedMicros: 1))
        #expect(before.host == nil && before.vendor == nil)
        #expect(after.host == "api.acme.example" && after.vendor == "acme")
    }

    @Test func aFloodOfDistinctAddressesKeepsAtMostTheLimit() {
        let seen = Seen(limit: 8)
        for i in 0..<100 {
            let address: [UInt8] = [198, 51, 100, UInt8(i)]
            #expect(seen.source(address) == "198.51.100.\(i)")
            #expect(seen.destination(address, in: CatalogueIndex(Catalogue())).text == "198.51.100.\(i)")
            #expect(seen.count <= 16)
        }
    }

    final class Learned: @unchecked Sendable {
        var name: String?
    }
}
