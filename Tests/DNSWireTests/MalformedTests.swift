import Testing
@testable import DNSWire

func header(qd: UInt16 = 1, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0, flags: UInt16 = 0x8180) -> [UInt8] {
    [0x55, 0xAA, UInt8(flags >> 8), UInt8(flags & 0xFF),
     UInt8(qd >> 8), UInt8(qd & 0xFF), UInt8(an >> 8), UInt8(an & 0xFF),
     UInt8(ns >> 8), UInt8(ns & 0xFF), UInt8(ar >> 8), UInt8(ar & 0xFF)]
}

func parseError(_ bytes: [UInt8]) -> DNSParseError? {
    do {
        _ = try DNSMessage.parse(bytes)
        return nil
    } catch {
        return error
    }
}

/// Question `a.example A IN` at offset 12 (15 bytes; "example" at 14).
let questionA: [UInt8] = label("a") + label("example") + [0] + [0, 1, 0, 1]

/// An answer record owned by @12 with the given type and RDATA.
func answer(type: UInt16, rdata: [UInt8], rdlength: Int? = nil) -> [UInt8] {
    let n = rdlength ?? rdata.count
    return [0xC0, 12, UInt8(type >> 8), UInt8(type & 0xFF), 0, 1, 0, 0, 0, 60, UInt8(n >> 8), UInt8(n & 0xFF)] + rdata
}

@Suite struct MalformedTests {
    @Test func everyTruncationThrows() {
        for (name, bytes) in Fixture.all {
            for cut in 0 ..< bytes.count {
                let e = parseError(Array(bytes[..<cut]))
                #expect(e != nil, "\(name) cut at \(cut) parsed")
            }
        }
    }

    @Test func truncationErrors() {
        #expect(parseError([]) == .truncated(at: 0))
        #expect(parseError(Array(Fixture.cnameChain[..<11])) == .truncated(at: 11))
        // Cut inside the AAAA RDATA: RDATA would run past the end.
        #expect(parseError(Array(Fixture.cnameChain[..<130])) == .truncated(at: 130))
    }

    @Test func pointerToItself() {
        #expect(parseError(header() + [0xC0, 12, 0, 1, 0, 1]) == .compressionLoop(at: 12))
    }

    @Test func pointerBackIntoTheSameName() {
        // "a" then a pointer back to the name's own start: a cycle of backward pointers.
        #expect(parseError(header() + [1, 0x61, 0xC0, 12, 0, 1, 0, 1]) == .compressionLoop(at: 14))
    }

    @Test func twoPointersToEachOther() {
        // Question @12 is a plain name; the answer's owner (@27) points to @29, whose pointer
        // points back to @27. One of the two always points forward.
        let msg = header(an: 1) + questionA + [0xC0, 29, 0xC0, 27] + [0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]
        #expect(parseError(msg) == .pointerForward(at: 27))
        // A cycle needs no forward pointer when it starts mid-name: "b" @27, then a pointer @29
        // back to @27. Jumps must land before every byte the name has read, so it is refused.
        let cycle = header(an: 1) + questionA + [1, 0x62, 0xC0, 27] + [0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]
        #expect(parseError(cycle) == .compressionLoop(at: 29))
    }

    @Test func forwardPointer() {
        let msg = header(an: 1) + [0xC0, 20, 0, 1, 0, 1] + [1, 0x61, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]
        #expect(parseError(msg) == .pointerForward(at: 12))
    }

    @Test func pointerIntoHeader() {
        let msg = header(an: 1) + questionA + [0xC0, 2] + [0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]
        #expect(parseError(msg) == .badPointer(at: 27))
    }

    /// A chain of pointers, each to the one before, inside a TXT record's RDATA, ending at the
    /// root name at @12; the second answer's owner points at the last one.
    func pointerChain(_ n: Int) -> [UInt8] {
        var msg = header(qd: 1, an: 2) + [0, 0, 1, 0, 1] // @12 question: root A IN
        msg += [0, 0, 16, 0, 1, 0, 0, 0, 60, UInt8((2 * n) >> 8), UInt8((2 * n) & 0xFF)] // @17 TXT, RDATA @28
        for k in 0 ..< n {
            let target = k == 0 ? 12 : 28 + 2 * (k - 1)
            msg += [0xC0 | UInt8(target >> 8), UInt8(target & 0xFF)]
        }
        let last = 28 + 2 * (n - 1)
        msg += [0xC0 | UInt8(last >> 8), UInt8(last & 0xFF), 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]
        return msg
    }

    @Test func tooManyJumps() {
        // 1 + 127 jumps is the limit; one more is refused at the chain's first pointer (@28).
        #expect(parseError(pointerChain(127)) == nil)
        #expect(parseError(pointerChain(128)) == .compressionLoop(at: 28))
    }

    @Test func labelOf64Bytes() {
        let msg = header() + [64] + [UInt8](repeating: 0x61, count: 64) + [0, 0, 1, 0, 1]
        #expect(parseError(msg) == .badLabel(at: 12))
        // 0x80 is no label type either.
        #expect(parseError(header() + [0x80, 1, 0, 1, 0, 1]) == .badLabel(at: 12))
    }

    @Test func labelOf63BytesIsFine() throws {
        let msg = header() + [63] + [UInt8](repeating: 0x61, count: 63) + [0, 0, 1, 0, 1]
        #expect(try DNSMessage.parse(msg).questions[0].name.count == 63)
    }

    @Test func nameOver255() {
        // Four 63-byte labels: 4 * 64 + 1 = 257 bytes.
        var name: [UInt8] = []
        for _ in 0 ..< 4 { name += [63] + [UInt8](repeating: 0x62, count: 63) }
        #expect(parseError(header() + name + [0, 0, 1, 0, 1]) == .nameTooLong(at: 12))
        // Exactly 255: three 63-byte labels, one 61-byte label, root.
        var ok: [UInt8] = []
        for _ in 0 ..< 3 { ok += [63] + [UInt8](repeating: 0x62, count: 63) }
        ok += [61] + [UInt8](repeating: 0x62, count: 61) + [0]
        #expect(ok.count == 255)
        #expect(parseError(header() + ok + [0, 1, 0, 1]) == nil)
        // Over 255 only through compression: the answer owner adds a label to the 255-byte name.
        let viaPointer = header(an: 1) + ok + [0, 1, 0, 1] + [1, 0x63, 0xC0, 12]
            + [0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]
        #expect(parseError(viaPointer) == .nameTooLong(at: 12 + 255 + 4))
    }

    @Test func hugeCounts() {
        #expect(parseError(header(qd: 65535) + questionA) == .countTooLarge(section: "question"))
        #expect(parseError(header(an: 65535) + questionA + [UInt8](repeating: 0, count: 73))
            == .countTooLarge(section: "answer"))
        #expect(parseError(header(ns: 65535) + questionA) == .countTooLarge(section: "authority"))
        #expect(parseError(header(ar: 65535) + questionA) == .countTooLarge(section: "additional"))
        // Counts that just fit the bytes are not refused up front (they fail later, honestly).
        #expect(parseError(header(qd: 1, an: 1) + questionA + [UInt8](repeating: 0, count: 10)) == .truncated(at: 36))
    }

    @Test func aWithRdlength5() {
        let msg = header(an: 1) + questionA + answer(type: 1, rdata: [1, 2, 3, 4, 5])
        #expect(parseError(msg) == .badRecordLength(type: 1, at: 37))
        let aaaa = header(an: 1) + questionA + answer(type: 28, rdata: [UInt8](repeating: 0, count: 15))
        #expect(parseError(aaaa) == .badRecordLength(type: 28, at: 37))
    }

    @Test func rdataPastTheEnd() {
        let msg = header(an: 1) + questionA + answer(type: 16, rdata: [3, 0x61, 0x62], rdlength: 4)
        #expect(parseError(msg) == .truncated(at: msg.count))
    }

    @Test func cnameOverrunsRdlength() {
        // The target "www.a.example" is 15 bytes in place but RDLENGTH says 6.
        let target = label("www") + label("x") + label("example") + [0]
        let msg = header(an: 1) + questionA + answer(type: 5, rdata: target, rdlength: 6)
        #expect(parseError(msg) == .badRecordLength(type: 5, at: 37))
        // And a target that ends before RDLENGTH.
        let short = header(an: 1) + questionA + answer(type: 5, rdata: [0xC0, 12, 0], rdlength: 3)
        #expect(parseError(short) == .badRecordLength(type: 5, at: 37))
    }

    @Test func soaOverrunsRdlength() {
        let rdata = label("ns") + [0xC0, 14] + label("h") + [0xC0, 14] + [UInt8](repeating: 0, count: 20)
        let msg = header(an: 1) + questionA + answer(type: 6, rdata: rdata, rdlength: rdata.count - 1) + [0]
        #expect(parseError(msg) == .badRecordLength(type: 6, at: 37))
    }

    @Test func svcbStrictness() {
        func https(_ rdata: [UInt8]) -> [UInt8] { header(an: 1) + questionA + answer(type: 65, rdata: rdata) }
        // Compressed target.
        #expect(parseError(https([0, 1, 0xC0, 12])) == .compressionNotAllowed(at: 41))
        // Keys out of order, and repeated.
        #expect(parseError(https([0, 1, 0, 0, 6, 0, 16] + [UInt8](repeating: 0, count: 16) + [0, 4, 0, 4, 1, 2, 3, 4]))
            == .badSvcParam(key: 4, at: 62))
        #expect(parseError(https([0, 1, 0, 0, 4, 0, 4, 1, 2, 3, 4, 0, 4, 0, 4, 1, 2, 3, 4]))
            == .badSvcParam(key: 4, at: 50))
        // Hint lengths.
        #expect(parseError(https([0, 1, 0, 0, 4, 0, 5, 1, 2, 3, 4, 5])) == .badSvcParam(key: 4, at: 42))
        #expect(parseError(https([0, 1, 0, 0, 4, 0, 0])) == .badSvcParam(key: 4, at: 42))
        #expect(parseError(https([0, 1, 0, 0, 6, 0, 4, 1, 2, 3, 4])) == .badSvcParam(key: 6, at: 42))
        // A param running past RDLENGTH, and a half param header.
        #expect(parseError(https([0, 1, 0, 0, 1, 0, 9, 1, 2])) == .badRecordLength(type: 65, at: 42))
        #expect(parseError(https([0, 1, 0, 0, 1])) == .badRecordLength(type: 65, at: 42))
        // Too short for priority and a name.
        #expect(parseError(https([0, 1])) == .badRecordLength(type: 65, at: 37))
        // AliasMode with a target and no params is fine.
        #expect(parseError(https([0, 0] + label("svc") + label("example") + [0])) == nil)
    }

    @Test func optPlacement() {
        let opt: [UInt8] = [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]
        // In the answer section.
        #expect(parseError(header(an: 1) + questionA + opt) == .badOPT(at: 27))
        // Twice.
        #expect(parseError(header(ar: 2) + questionA + opt + opt) == .badOPT(at: 38))
        // Not owned by the root.
        #expect(parseError(header(ar: 1) + questionA + [0xC0, 12] + opt.dropFirst()) == .badOPT(at: 27))
        // Options must fill RDATA exactly.
        let badOption = header(ar: 1) + questionA + [0, 0, 41, 4, 0xD0, 0, 0, 0, 0, 0, 5, 0, 10, 0, 8, 1]
        #expect(parseError(badOption) == .badRecordLength(type: 41, at: 38))
    }

    @Test func trailingGarbage() {
        #expect(parseError(Fixture.nxdomain + [0]) == .trailingGarbage(at: Fixture.nxdomain.count))
    }
}
