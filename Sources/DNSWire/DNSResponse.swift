/// Responses the station's resolver makes itself, as wire bytes.
///
/// Both echo the query's id, opcode and every question (in the spelling the client sent,
/// so a client that randomises case gets its own spelling back), set QR and RA, copy RD and
/// CD, and add an OPT record (payload size `DNSResponse.udpPayloadSize`, DO copied) when the
/// query had one.
public enum DNSResponse {
    /// The UDP payload size the station's resolver announces (the DNS flag day 2020 value).
    public static let udpPayloadSize: UInt16 = 1232

    /// A response with no records: NXDOMAIN (3), SERVFAIL (2), REFUSED (5) or any other code.
    /// A code over 15 needs EDNS; without an OPT in the query only its low 4 bits are sent.
    public static func refusal(to query: DNSMessage, rcode: UInt8) throws(DNSEncodeError) -> [UInt8] {
        try response(to: query, rcode: rcode).encode()
    }

    /// TC set and no records: a UDP client that gets it asks again over TCP (RFC 1035 4.2.1;
    /// RFC 2181 9 says to ignore the rest of a truncated message, so it carries nothing).
    public static func truncated(to query: DNSMessage, rcode: UInt8) throws(DNSEncodeError) -> [UInt8] {
        var m = response(to: query, rcode: rcode)
        m.flags.tc = true
        return try m.encode()
    }

    /// NOERROR with a null address: 0.0.0.0 for an A question, :: for AAAA (class IN), and
    /// no answer for any other question.
    public static func nullAnswer(to query: DNSMessage, ttl: UInt32) throws(DNSEncodeError) -> [UInt8] {
        var m = response(to: query, rcode: DNSRcode.noError)
        for q in query.questions where q.klass == DNSClass.internet {
            switch q.type {
            case DNSType.a:
                m.answers.append(DNSRecord(name: q.spelling, type: DNSType.a, ttl: ttl, data: .a([0, 0, 0, 0])))
            case DNSType.aaaa:
                m.answers.append(DNSRecord(name: q.spelling, type: DNSType.aaaa, ttl: ttl,
                                           data: .aaaa([UInt8](repeating: 0, count: 16))))
            default:
                break
            }
        }
        return try m.encode()
    }

    static func response(to query: DNSMessage, rcode: UInt8) -> DNSMessage {
        var flags = DNSFlags(qr: true, opcode: query.flags.opcode, rd: query.flags.rd, ra: true,
                             cd: query.flags.cd, rcode: rcode & 0xF)
        flags.z = false
        var m = DNSMessage(id: query.id, flags: flags, questions: query.questions)
        if let edns = query.edns {
            m.additional = [.opt(udpPayloadSize: udpPayloadSize, extendedRcode: rcode >> 4, dnssecOK: edns.dnssecOK)]
        }
        return m
    }
}
