import Testing
@testable import DNSWire

@Suite struct ParseFixtureTests {
    @Test func fixtureLengths() {
        #expect(Fixture.cnameChain.count == 135)
        #expect(Fixture.https.count == 87)
        #expect(Fixture.ednsQuery.count == 48)
        #expect(Fixture.nxdomain.count == 85)
    }

    @Test func cnameChainThenAddresses() throws {
        let m = try DNSMessage.parse(Fixture.cnameChain)
        #expect(m.id == 0xBEEF)
        #expect(m.flags.qr && m.flags.rd && m.flags.ra && !m.flags.aa && !m.flags.tc)
        #expect(m.flags.rcode == 0 && m.flags.opcode == 0 && m.rcode == 0)
        #expect(m.questions.count == 1)
        #expect(m.questions[0].name == "flysafe-api.dji.com")
        #expect(m.questions[0].spelling == "FlySafe-API.dji.com")
        #expect(m.questions[0].type == DNSType.a && m.questions[0].klass == DNSClass.internet)
        #expect(m.answers.map(\.name) == ["flysafe-api.dji.com", "flysafe.cdn.example.net",
                                          "e1.cdn.example.net", "e1.cdn.example.net"])
        #expect(m.answers.map(\.ttl) == [300, 60, 20, 20])
        #expect(m.answers[0].data == .cname("flysafe.cdn.example.net"))
        #expect(m.answers[1].data == .cname("e1.cdn.example.net"))
        #expect(m.answers[2].data == .a([203, 0, 113, 7]))
        #expect(m.answers[3].data == .aaaa([0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]))
        #expect(m.authority.isEmpty && m.additional.isEmpty && m.edns == nil)
    }

    @Test func httpsWithHints() throws {
        let m = try DNSMessage.parse(Fixture.https)
        #expect(m.questions[0].name == "api.example.org" && m.questions[0].type == DNSType.https)
        let r = try #require(m.answers.first)
        #expect(r.type == DNSType.https && r.name == "api.example.org")
        guard case let .svcb(binding) = r.data else { Issue.record("not svcb: \(r.data)"); return }
        #expect(binding.priority == 1)
        #expect(binding.target == "")
        #expect(binding.params.map(\.key) == [1, 4, 6])
        #expect(binding.params[0].value == [2, 0x68, 0x32])
        #expect(binding.ipv4Hints == [[192, 0, 2, 1], [192, 0, 2, 2]])
        #expect(binding.ipv6Hints == [[0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]])
    }

    @Test func ednsOPT() throws {
        let m = try DNSMessage.parse(Fixture.ednsQuery)
        #expect(!m.flags.qr && m.flags.rd && m.flags.ad)
        #expect(m.questions[0].name == "dji.com")
        let edns = try #require(m.edns)
        #expect(edns.udpPayloadSize == 1232 && edns.dnssecOK && edns.version == 0 && edns.extendedRcode == 0)
        #expect(edns.options == [0x00, 0x0A, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8])
        #expect(m.additional[0].name == "" && m.additional[0].type == DNSType.opt)
    }

    @Test func nxdomainWithSOA() throws {
        let m = try DNSMessage.parse(Fixture.nxdomain)
        #expect(m.flags.rcode == DNSRcode.nxDomain && m.rcode == 3)
        #expect(m.answers.isEmpty && m.authority.count == 1)
        let soa = m.authority[0]
        #expect(soa.name == "example.com" && soa.type == DNSType.soa && soa.ttl == 900)
        // The SOA's names come out decompressed, so the RDATA can go into another message as it is.
        let expected = label("ns1") + label("example") + label("com") + [0]
            + label("hostmaster") + label("example") + label("com") + [0]
            + Array(Fixture.nxdomain[Fixture.nxdomain.count - 20 ..< Fixture.nxdomain.count])
        #expect(soa.data == .other(type: DNSType.soa, rdata: expected))
    }

    @Test func extendedRcodeFromOPT() throws {
        var m = DNSMessage(id: 1, flags: DNSFlags(qr: true, rcode: 0x6))
        m.additional = [.opt(udpPayloadSize: 1232, extendedRcode: 1)]
        let parsed = try DNSMessage.parse(try m.encode())
        #expect(parsed.rcode == 0x16) // BADVERS/BADSIG
    }

    @Test func escapedLabels() throws {
        // A label holding a dot, a backslash, a space and a high byte, and an upper-case owner.
        var q: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        q += [6, 0x61, 0x2E, 0x5C, 0x20, 0xFF, 0x42] + label("Com") + [0, 0, 1, 0, 1]
        let m = try DNSMessage.parse(q)
        #expect(m.questions[0].spelling == #"a\.\\\032\255B.Com"#)
        #expect(m.questions[0].name == #"a\.\\\032\255b.com"#)
        #expect(try m.encode() == q)
    }

    @Test func rootNameAndClassNotIN() throws {
        // A "root A CH" question and a CH-class A record: A is decoded for IN only.
        var q: [UInt8] = [0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]
        q += [0, 0, 1, 0, 3]
        q += [0, 0, 1, 0, 3, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5]
        let m = try DNSMessage.parse(q)
        #expect(m.questions[0].name == "" && m.questions[0].klass == 3)
        #expect(m.answers[0].data == .other(type: 1, rdata: [1, 2, 3, 4, 5]))
    }

    @Test func parseFromOtherCollections() throws {
        let a = try DNSMessage.parse(Fixture.https)
        let b = try DNSMessage.parse(Fixture.https[...])
        let c = try Fixture.https.withUnsafeBytes { try DNSMessage.parse($0) }
        #expect(a == b && b == c)
    }

    @Test func fixturesRoundTrip() throws {
        for (name, bytes) in Fixture.all {
            let m = try DNSMessage.parse(bytes)
            let again = try DNSMessage.parse(try m.encode())
            #expect(again == m, "\(name)")
        }
        // Without compression in the original, the encoding is the same bytes.
        #expect(try DNSMessage.parse(Fixture.ednsQuery).encode() == Fixture.ednsQuery)
    }
}
