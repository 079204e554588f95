import StationResolver
import DNSWire
import NetAddress
import Testing

/// What the resolver reads from an answer: the chain of names and the addresses at its end.
@Suite struct AnswerFactsTests {
    func message(_ answers: [DNSRecord], question: String = "app.vendor.example", type: UInt16 = DNSType.a) -> DNSMessage {
        DNSMessage(id: 1, flags: DNSFlags(qr: true), questions: [DNSQuestion(name: question, type: type)], answers: answers)
    }

    @Test func followsCnamesToTheAddresses() {
        let m = message([
            DNSRecord(name: "app.vendor.example", type: DNSType.cname, ttl: 300, data: .cname("x.cdn.example")),
            DNSRecord(name: "x.cdn.example", type: DNSType.cname, ttl: 60, data: .cname("y.cdn.example")),
            DNSRecord(name: "y.cdn.example", type: DNSType.a, ttl: 20, data: .a([203, 0, 113, 9])),
            DNSRecord(name: "y.cdn.example", type: DNSType.aaaa, ttl: 30, data: .aaaa([0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [9])),
            // Not on the chain: must not be learned.
            DNSRecord(name: "other.example", type: DNSType.a, ttl: 5, data: .a([198, 51, 100, 1])),
        ])
        let f = AnswerFacts(question: "app.vendor.example", answer: m)
        #expect(f.names == ["app.vendor.example", "x.cdn.example", "y.cdn.example"])
        #expect(f.addresses.map(\.description) == ["203.0.113.9", "2001:db8::9"])
        #expect(f.ttlSeconds == 20, "the smallest TTL on the way")
    }

    @Test func httpsRecordsGiveTheirHintsAndTargets() {
        let binding = DNSServiceBinding(priority: 1, target: "edge.cdn.example", params: [
            DNSSvcParam(key: DNSSvcParam.ipv4hint, value: [203, 0, 113, 10, 203, 0, 113, 11]),
            DNSSvcParam(key: DNSSvcParam.ipv6hint, value: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [10]),
        ])
        let m = message([DNSRecord(name: "app.vendor.example", type: DNSType.https, ttl: 40, data: .svcb(binding))],
                        type: DNSType.https)
        let f = AnswerFacts(question: "app.vendor.example", answer: m)
        #expect(f.addresses.map(\.description) == ["203.0.113.10", "203.0.113.11", "2001:db8::a"])
        #expect(f.names == ["app.vendor.example", "edge.cdn.example"], "the target inherits the name's classes")
        #expect(f.ttlSeconds == 40)
    }

    @Test func aNameErrorHasNothingToLearn() {
        let f = AnswerFacts(question: "app.vendor.example", answer: message([]))
        #expect(f.addresses.isEmpty && f.ttlSeconds == 0 && f.names == ["app.vendor.example"])
    }
}
