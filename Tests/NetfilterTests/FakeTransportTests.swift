import XCTest
import NftModel
@testable import Netfilter
import NetfilterTesting
import CNetfilter

/// Tests at the message boundary: no kernel, no root.
final class FakeTransportTests: XCTestCase {
    func testApplySendsOneBatchInOrderWithAcks() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake, firstSequence: 100)
        let small = Ruleset(table: Table(name: "dronewall",
            sets: [NamedSet(name: "ifs", keyType: .interfaceName, elements: [SetElement(key: .interfaceName("wlan0"))])],
            chains: [Chain(name: "drone_x", rules: [Rule([], [.counter], .verdict(.drop))]),
                     Chain(name: "forward", base: BaseChainSpec(hook: .forward),
                           rules: [Rule([.inSet(.inputInterfaceName, set: "ifs", negated: false)], [], .verdict(.jump("drone_x")))])]))
        try client.apply(small)
        XCTAssertEqual(fake.batches.count, 1)
        let batch = fake.batches[0]
        XCTAssertEqual(batch.map(\.kind), [.batchBegin, .newTable, .deleteTable, .newTable, .newChain, .newChain,
                                           .newSet, .newSetElement, .newRule, .newRule, .batchEnd])
        XCTAssertEqual(batch.map(\.sequence), Array(100..<111))
        for m in batch { XCTAssertTrue(m.wantsAck, "\(m.kind) lacks NLM_F_ACK") }
        // Batch begin names the nf_tables subsystem (res_id 10, big endian).
        XCTAssertEqual(Array(batch[0].bytes[16..<20]), [0, 0, 0, 10])
        // The first NEWTABLE must not carry NLM_F_EXCL, so it succeeds when the table exists.
        XCTAssertEqual(batch[1].flags & 0x200, 0)
        XCTAssertEqual(batch[1].family, 1) // NFPROTO_INET
        XCTAssertEqual(batch[8].subject?.description, "rule 1 in chain drone_x")
    }

    func testFullFixtureLinearizes() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake)
        try client.apply(Fixtures.ruleset)
        let kinds = fake.batches[0].map(\.kind)
        let rules = Fixtures.ruleset.table.chains.reduce(0) { $0 + $1.rules.count }
        XCTAssertEqual(kinds.filter { $0 == .newRule }.count, rules)
        XCTAssertEqual(kinds.filter { $0 == .newSet }.count, Fixtures.ruleset.table.sets.count)
        XCTAssertEqual(kinds.filter { $0 == .newChain }.count, 3)
    }

    func testErrorAckNamesObjectAndOrigin() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake)
        let batch = try client.applyBatch(Fixtures.ruleset)
        // Find the first rule of chain drone_survey and make the "kernel" refuse it.
        let k = try XCTUnwrap(batch.firstIndex { $0.subject?.description == "rule 1 in chain drone_survey" })
        fake.failures = [k: (errno: ENOENT, extendedAck: "chain not found", offset: nil)]
        XCTAssertThrowsError(try client.apply(Fixtures.ruleset)) { error in
            guard let e = error as? NetlinkError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.kind, .rejected)
            XCTAssertEqual(e.errno, ENOENT)
            XCTAssertEqual(e.object, "rule 1 in chain drone_survey")
            XCTAssertEqual(e.origin, "drones.d/survey.conf:4:1")
            XCTAssertEqual(e.extendedAck, "chain not found")
            XCTAssertTrue(e.description.contains("No such file or directory"), e.description)
            XCTAssertTrue(e.description.contains("drones.d/survey.conf:4:1"), e.description)
        }
    }

    func testErrorOffsetNamesTheElement() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake)
        let batch = try client.applyBatch(Fixtures.ruleset)
        let k = try XCTUnwrap(batch.firstIndex { $0.kind == .newSetElement && $0.subject?.description.contains("endpoints_v4") == true })
        let m = batch[k]
        // endpoints_v4 elements in message order: interval-end at 0, 198.51.100.7, its end, 203.0.113.0/24, its end.
        XCTAssertEqual(m.parts.map(\.description), [
            "set endpoints_v4 element interval start (0)", "set endpoints_v4 element 198.51.100.7",
            "set endpoints_v4 element end of 198.51.100.7", "set endpoints_v4 element 203.0.113.0/24",
            "set endpoints_v4 element end of 203.0.113.0/24",
        ])
        // Offset of the 4th element nest: walk the message like the kernel's NL_SET_BAD_ATTR would point.
        let offset = try XCTUnwrap(elementOffsets(m).dropFirst(3).first)
        fake.failures = [k: (errno: EEXIST, extendedAck: nil, offset: UInt32(offset))]
        XCTAssertThrowsError(try client.apply(Fixtures.ruleset)) { error in
            let e = error as! NetlinkError
            XCTAssertEqual(e.object, "set endpoints_v4 element 203.0.113.0/24")
            XCTAssertEqual(e.origin, "dji.rules:7:1")
            XCTAssertEqual(e.errnoName, "EEXIST")
        }
    }

    func testPermissionDeniedIsDistinguishable() {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake)
        fake.failures = [0: (errno: EPERM, extendedAck: nil, offset: nil)]
        XCTAssertThrowsError(try client.apply(Fixtures.ruleset)) { error in
            let e = error as! NetlinkError
            XCTAssertTrue(e.isPermissionDenied)
            XCTAssertEqual(e.object, "batch")
            XCTAssertTrue(e.description.contains("CAP_NET_ADMIN"), e.description)
        }
    }

    func testTimeoutElementsAddAndDelete() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake)
        let set = Fixtures.ruleset.table.set(named: "learned_v4")!
        let element = SetElement(key: .network(Fixtures.net("198.51.100.77")), data: .mark(1),
                                 timeoutMilliseconds: 90_000, origin: "dns: vendor.example.com")
        try client.addElements(table: "dronewall", set: set, elements: [element])
        try client.deleteElements(table: "dronewall", set: set, elements: [element])
        XCTAssertEqual(fake.batches.map { $0.map(\.kind) }, [[.batchBegin, .newSetElement, .batchEnd],
                                                           [.batchBegin, .deleteSetElement, .batchEnd]])
        let add = fake.batches[0][1], del = fake.batches[1][1]
        XCTAssertEqual(add.flags & 0x400, 0x400, "NEWSETELEM with NLM_F_CREATE")
        // NFTA_SET_ELEM_TIMEOUT (4) is a big-endian u64 of milliseconds inside the element nest.
        let timeout = try XCTUnwrap(elementAttribute(add, type: 4))
        XCTAssertEqual(timeout, [0, 0, 0, 0, 0, 1, 0x5F, 0x90])
        XCTAssertNil(elementAttribute(del, type: 4), "deletes carry no timeout")
        XCTAssertEqual(elementAttribute(del, type: 1).map { Array($0.suffix(4)) }, [198, 51, 100, 77])
        XCTAssertEqual(add.subject?.description, "set learned_v4 element 198.51.100.77")
        XCTAssertEqual(add.subject?.origin, "dns: vendor.example.com")
    }

    func testInvalidIRIsRejectedBeforeSending() {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake)
        let bad = Ruleset(table: Table(name: "dronewall",
            sets: [NamedSet(name: "hosts", keyType: .ipv4Address,
                            elements: [SetElement(key: .network(Fixtures.net("192.0.2.0/24")), origin: "x.conf:3:7")])]))
        XCTAssertThrowsError(try client.apply(bad)) { error in
            let e = error as! NetlinkError
            XCTAssertEqual(e.kind, .invalidRuleset)
            XCTAssertEqual(e.origin, "x.conf:3:7")
        }
        XCTAssertTrue(fake.batches.isEmpty)
    }

    func testFlushReportsWhetherTableExisted() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake)
        XCTAssertTrue(try client.flush(table: "dronewall"))
        XCTAssertEqual(fake.batches[0].map(\.kind), [.batchBegin, .deleteTable, .batchEnd])
        fake.failures = [1: (errno: ENOENT, extendedAck: nil, offset: nil)]
        XCTAssertFalse(try client.flush(table: "dronewall"))
    }

    func testStatusParsesDumps() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake)
        // Answer dumps with the objects we would send: the parsers read them like kernel replies.
        let sent = try client.applyBatch(Fixtures.ruleset)
        fake.requestHandler = { (req: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage] in
            switch req.kind {
            case .getTable: return [sent[3]]
            case .getChain: return sent.filter { $0.kind == .newChain }
            case .getRule: return sent.filter { $0.kind == .newRule }
            case .getSet: return sent.filter { $0.kind == .newSet }
            case .getSetElement:
                var name = ""
                forEachAttribute(req.bytes, from: 20, to: req.bytes.count) { t, s, l in
                    if t == 2 { name = String(decoding: req.bytes[(s + 4)..<(s + l)].prefix { $0 != 0 }, as: UTF8.self) }
                }
                return sent.filter { $0.kind == .newSetElement && $0.subject?.description.hasPrefix("set \(name) ") == true }
                    .map(kernelStyle)
            default: return []
            }
        }
        let status = try XCTUnwrap(client.status(table: "dronewall"))
        XCTAssertEqual(status.chains.map(\.name), ["drone_survey", "forward", "output"])
        XCTAssertEqual(status.chains[1].hook, .forward)
        XCTAssertEqual(status.chains[0].rules.count, 3)
        XCTAssertEqual(status.chains[0].rules[0].logPrefix, "dw survey flight-logs ")
        XCTAssertEqual(status.chains[0].rules[0].packets, 0)
        XCTAssertNil(status.chains[0].rules[1].packets)
        XCTAssertEqual(status.sets.first { $0.name == "endpoints_v4" }?.elementCount, 2)
        XCTAssertEqual(status.sets.first { $0.name == "learned_v6" }?.elementCount, 0)

        fake.requestHandler = { (_: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage] in
            throw NetlinkError(kind: .rejected, errno: ENOENT, operation: "request")
        }
        XCTAssertNil(try client.status(table: "dronewall"))
    }
}

/// Offsets (from the message start) of the element nests in a NEWSETELEM/DELSETELEM message.
func elementOffsets(_ m: NetlinkMessage) -> [Int] {
    var out: [Int] = []
    forEachAttribute(m.bytes, from: 20, to: m.bytes.count) { type, start, len in
        guard type == 3 else { return } // NFTA_SET_ELEM_LIST_ELEMENTS
        forEachAttribute(m.bytes, from: start + 4, to: start + len) { _, s, _ in out.append(s) }
    }
    return out
}

/// Payload of attribute `type` in the first element of a set element message.
func elementAttribute(_ m: NetlinkMessage, type: UInt16) -> [UInt8]? {
    guard let first = elementOffsets(m).first else { return nil }
    let len = Int(m.bytes[first]) | Int(m.bytes[first + 1]) << 8
    var found: [UInt8]?
    forEachAttribute(m.bytes, from: first + 4, to: first + len) { t, s, l in
        if t == type, found == nil { found = Array(m.bytes[(s + 4)..<(s + l)]) }
    }
    return found
}

func forEachAttribute(_ b: [UInt8], from: Int, to: Int, _ body: (UInt16, Int, Int) -> Void) {
    var at = from
    while at + 4 <= to {
        let len = Int(b[at]) | Int(b[at + 1]) << 8
        let type = (UInt16(b[at + 2]) | UInt16(b[at + 3]) << 8) & 0x3FFF
        guard len >= 4 else { return }
        body(type, at, len)
        at += (len + 3) & ~3
    }
}

/// libnftnl numbers element nests 1, 2, 3...; the kernel's dumps use NFTA_LIST_ELEM (1) for each.
func kernelStyle(_ m: NetlinkMessage) -> NetlinkMessage {
    var out = m
    for offset in elementOffsets(m) {
        out.bytes[offset + 2] = 1
        out.bytes[offset + 3] = 0x80 // NLA_F_NESTED
    }
    return out
}
