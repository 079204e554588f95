import Testing
@testable import DNSWire

@Suite struct BuilderTests {
    @Test func queryBuilder() throws {
        let bytes = try DNSMessage.query(id: 0x4242, name: "Flysafe-API.dji.com.", type: DNSType.aaaa)
        let m = try DNSMessage.parse(bytes)
        #expect(m.id == 0x4242 && !m.flags.qr && m.flags.rd)
        #expect(m.questions == [DNSQuestion(name: "Flysafe-API.dji.com", type: DNSType.aaaa)])
        #expect(m.questions[0].name == "flysafe-api.dji.com")
        #expect(m.edns?.udpPayloadSize == 1232)
        let plain = try DNSMessage.parse(try DNSMessage.query(id: 1, name: "", type: DNSType.ns,
                                                               recursionDesired: false, ednsPayloadSize: nil))
        #expect(!plain.flags.rd && plain.additional.isEmpty && plain.questions[0].name == "")
    }

    @Test func badNamesDoNotEncode() {
        #expect(throws: DNSEncodeError.self) { try DNSMessage.query(id: 1, name: "a..b", type: 1) }
        #expect(throws: DNSEncodeError.self) { try DNSMessage.query(id: 1, name: String(repeating: "x", count: 64), type: 1) }
        #expect(throws: DNSEncodeError.self) {
            try DNSMessage.query(id: 1, name: Array(repeating: String(repeating: "x", count: 63), count: 4).joined(separator: "."), type: 1)
        }
        #expect(throws: DNSEncodeError.self) { try DNSMessage.query(id: 1, name: #"a\25"#, type: 1) }
        #expect(throws: DNSEncodeError.self) { try DNSMessage.query(id: 1, name: #"a\256"#, type: 1) }
        #expect(throws: DNSEncodeError.self) { try DNSMessage.query(id: 1, name: #"a\"#, type: 1) }
        var m = DNSMessage(id: 1)
        m.answers = [DNSRecord(name: "x", type: 1, ttl: 1, data: .a([1, 2, 3]))]
        #expect(throws: DNSEncodeError.badAddress(type: 1, length: 3)) { try m.encode() }
    }

    @Test func refusalEchoesTheQuery() throws {
        let query = try DNSMessage.parse(Fixture.ednsQuery)
        for rcode in [DNSRcode.nxDomain, DNSRcode.servFail, DNSRcode.refused] {
            let r = try DNSMessage.parse(try DNSResponse.refusal(to: query, rcode: rcode))
            #expect(r.id == query.id)
            #expect(r.questions == query.questions)
            #expect(r.flags.qr && r.flags.ra && r.flags.rd && !r.flags.aa && !r.flags.tc && !r.flags.ad)
            #expect(r.flags.rcode == rcode && r.rcode == UInt16(rcode))
            #expect(r.answers.isEmpty && r.authority.isEmpty)
            let edns = try #require(r.edns)
            #expect(edns.udpPayloadSize == DNSResponse.udpPayloadSize && edns.dnssecOK && edns.options.isEmpty)
        }
    }

    @Test func refusalWithoutEDNSAndRDClear() throws {
        let query = try DNSMessage.parse(try DNSMessage.query(id: 7, name: "X.example", type: 1, recursionDesired: false,
                                                               ednsPayloadSize: nil))
        let r = try DNSMessage.parse(try DNSResponse.refusal(to: query, rcode: DNSRcode.refused))
        #expect(r.id == 7 && !r.flags.rd && r.flags.ra && r.flags.qr && r.flags.rcode == 5)
        #expect(r.additional.isEmpty)
        #expect(r.questions[0].spelling == "X.example")
    }

    @Test func truncatedAnswerCarriesNoRecords() throws {
        let query = try DNSMessage.parse(Fixture.ednsQuery)
        let r = try DNSMessage.parse(try DNSResponse.truncated(to: query, rcode: DNSRcode.noError))
        #expect(r.id == query.id && r.questions == query.questions)
        #expect(r.flags.qr && r.flags.tc && r.flags.rcode == DNSRcode.noError)
        #expect(r.answers.isEmpty && r.authority.isEmpty)
        #expect(r.edns?.udpPayloadSize == DNSResponse.udpPayloadSize)
    }

    @Test func nullAnswers() throws {
        let a = try DNSMessage.parse(try DNSMessage.query(id: 9, name: "FlySafe-API.dji.com", type: DNSType.a))
        let ra = try DNSMessage.parse(try DNSResponse.nullAnswer(to: a, ttl: 30))
        #expect(ra.id == 9 && ra.flags.qr && ra.flags.ra && ra.flags.rcode == 0)
        #expect(ra.questions == a.questions)
        #expect(ra.answers == [DNSRecord(name: "flysafe-api.dji.com", type: DNSType.a, ttl: 30, data: .a([0, 0, 0, 0]))])
        #expect(ra.edns != nil)

        let aaaa = try DNSMessage.parse(try DNSMessage.query(id: 10, name: "dji.com", type: DNSType.aaaa, ednsPayloadSize: nil))
        let raaaa = try DNSMessage.parse(try DNSResponse.nullAnswer(to: aaaa, ttl: 5))
        #expect(raaaa.answers == [DNSRecord(name: "dji.com", type: DNSType.aaaa, ttl: 5,
                                            data: .aaaa([UInt8](repeating: 0, count: 16)))])
        #expect(raaaa.additional.isEmpty)

        let txt = try DNSMessage.parse(try DNSMessage.query(id: 11, name: "dji.com", type: DNSType.https))
        let rtxt = try DNSMessage.parse(try DNSResponse.nullAnswer(to: txt, ttl: 5))
        #expect(rtxt.flags.rcode == 0 && rtxt.answers.isEmpty && rtxt.questions == txt.questions)
    }
}
