import Testing
import NftModel
@testable import Netfilter
import NetfilterTesting
#if canImport(Glibc)
import Glibc
#endif

/// Tests at the message boundary: no kernel, no root.
@Suite struct FakeTransportTests {
    @Test func applySendsOneBatchInOrderWithAcks() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake, table: "dronewall", firstSequence: 100)
        let small = Ruleset(table: Table(name: "dronewall",
            sets: [NamedSet(name: "ifs", keyType: .interfaceName, elements: [SetElement(key: .interfaceName("wlan0"))])],
            chains: [Chain(name: "drone_x", rules: [Rule([], [.counter], .verdict(.drop))]),
                     Chain(name: "forward", base: BaseChainSpec(hook: .forward),
                           rules: [Rule([.inSet(.inputInterfaceName, set: "ifs", negated: false)], [], .verdict(.jump("drone_x")))])]))
        try client.apply(small)
        #expect(fake.batches.count == 1)
        let batch = fake.batches[0]
        #expect(batch.map(\.kind) == [.batchBegin, .newTable, .deleteTable, .newTable, .newChain, .newChain,
                                           .newSet, .newSetElement, .newRule, .newRule, .batchEnd])
        #expect(batch.map(\.sequence) == Array(100..<111))
        for m in batch { #expect(m.wantsAck, "\(m.kind) lacks NLM_F_ACK") }
        // Batch begin names the nf_tables subsystem (res_id 10, big endian).
        #expect(Array(batch[0].bytes[16..<20]) == [0, 0, 0, 10])
        // The first NEWTABLE must not carry NLM_F_EXCL, so it succeeds when the table exists.
        #expect(batch[1].flags & 0x200 == 0)
        #expect(batch[1].family == 1) // NFPROTO_INET
        #expect(batch[8].subject?.description == "rule 1 in chain drone_x")
    }

    @Test func fullFixtureLinearizes() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake, table: "dronewall")
        try client.apply(Fixtures.ruleset)
        let kinds = fake.batches[0].map(\.kind)
        let rules = Fixtures.ruleset.table.chains.reduce(0) { $0 + $1.rules.count }
        #expect((kinds.filter { $0 == .newRule }.count) == rules)
        #expect((kinds.filter { $0 == .newSet }.count) == Fixtures.ruleset.table.sets.count)
        #expect((kinds.filter { $0 == .newChain }.count) == 3)
    }

    @Test func errorAckNamesObjectAndOrigin() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake, table: "dronewall")
        let batch = try client.applyBatch(Fixtures.ruleset)
        // Find the first rule of chain drone_survey and make the "kernel" refuse it.
        let k = try #require(batch.firstIndex { $0.subject?.description == "rule 1 in chain drone_survey" })
        fake.failures = [k: (errno: ENOENT, extendedAck: "chain not found", offset: nil)]
        let e = try #require(throws: NetlinkError.self) { try client.apply(Fixtures.ruleset) }
        #expect(e.kind == .rejected)
        #expect(e.errno == ENOENT)
        #expect(e.object == .rule(chain: "drone_survey", index: 1))
        #expect(e.origin == "drones.d/survey.conf:4:1")
        #expect(e.extendedAck == "chain not found")
        #expect(e.description.contains("No such file or directory"), "\(e)")
        #expect(e.description.contains("drones.d/survey.conf:4:1"), "\(e)")
    }

    @Test func errorOffsetNamesTheElement() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake, table: "dronewall")
        let batch = try client.applyBatch(Fixtures.ruleset)
        let k = try #require(batch.firstIndex { $0.kind == .newSetElement && $0.subject?.description.contains("endpoints_v4") == true })
        let m = batch[k]
        // endpoints_v4 elements in message order: interval-end at 0, 198.51.100.7, its end, 203.0.113.0/24, its end.
        #expect(m.parts.map(\.description) == [
            "set endpoints_v4 element interval start (0)", "set endpoints_v4 element 198.51.100.7",
            "set endpoints_v4 element end of 198.51.100.7", "set endpoints_v4 element 203.0.113.0/24",
            "set endpoints_v4 element end of 203.0.113.0/24",
        ])
        // Offset of the 4th element nest: walk the message like the kernel's NL_SET_BAD_ATTR would point.
        let offset = try #require(elementOffsets(m).dropFirst(3).first)
        fake.failures = [k: (errno: EEXIST, extendedAck: nil, offset: UInt32(offset))]
        let e = try #require(throws: NetlinkError.self) { try client.apply(Fixtures.ruleset) }
        #expect(e.object == .element(set: "endpoints_v4", value: "203.0.113.0/24"))
        #expect(e.origin == "dji.rules:7:1")
        #expect(e.errnoName == "EEXIST")
    }

    @Test func permissionDeniedIsDistinguishable() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake, table: "dronewall")
        fake.failures = [0: (errno: EPERM, extendedAck: nil, offset: nil)]
        let e = try #require(throws: NetlinkError.self) { try client.apply(Fixtures.ruleset) }
        #expect(e.isPermissionDenied)
        #expect(e.object == .batch)
        #expect(e.description.contains("CAP_NET_ADMIN"), "\(e)")
    }

    @Test func timeoutElementsAddAndDelete() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake, table: "dronewall")
        let set = Fixtures.ruleset.table.set(named: "learned_v4")!
        let element = SetElement(key: .network(Fixtures.net("198.51.100.77")), data: .mark(1),
                                 timeoutMilliseconds: 90_000, origin: "learned.conf:1:1")
        try client.change([.add([element], to: set)])
        try client.change([.delete(keys: [element.key], from: set)])
        #expect(fake.batches.map { $0.map(\.kind) } == [[.batchBegin, .newSetElement, .batchEnd],
                                                           [.batchBegin, .deleteSetElement, .batchEnd]])
        let add = fake.batches[0][1], del = fake.batches[1][1]
        #expect(add.flags & 0x400 == 0x400, "NEWSETELEM with NLM_F_CREATE")
        // NFTA_SET_ELEM_TIMEOUT (4) is a big-endian u64 of milliseconds inside the element nest.
        let timeout = try #require(elementAttribute(add, type: 4))
        #expect(timeout == [0, 0, 0, 0, 0, 1, 0x5F, 0x90])
        #expect(elementAttribute(del, type: 4) == nil, "deletes carry no timeout")
        #expect(elementAttribute(del, type: 1).map { Array($0.suffix(4)) } == [198, 51, 100, 77])
        #expect(add.subject?.description == "set learned_v4 element 198.51.100.77")
        #expect(add.subject?.origin == "learned.conf:1:1")
    }

    @Test func invalidIRIsRejectedBeforeSending() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake, table: "dronewall")
        let bad = Ruleset(table: Table(name: "dronewall",
            sets: [NamedSet(name: "hosts", keyType: .ipv4Address,
                            elements: [SetElement(key: .network(Fixtures.net("192.0.2.0/24")), origin: "x.conf:3:7")])]))
        let e = try #require(throws: NetlinkError.self) { try client.apply(bad) }
        #expect(e.kind == .invalidRuleset)
        #expect(e.origin == "x.conf:3:7")
        #expect(fake.batches.isEmpty)
    }

    @Test func flushReportsWhetherTableExisted() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake, table: "dronewall")
        #expect(try client.flush())
        #expect(fake.batches[0].map(\.kind) == [.batchBegin, .deleteTable, .batchEnd])
        fake.failures = [1: (errno: ENOENT, extendedAck: nil, offset: nil)]
        #expect(try !client.flush())
    }

    @Test func statusParsesDumps() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake, table: "dronewall")
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
                for a in NetlinkAttributes(req.bytes, from: 20, to: req.bytes.count) where a.type == 2 {
                    name = String(decoding: req.bytes[a.value].prefix { $0 != 0 }, as: UTF8.self)
                }
                return sent.filter { $0.kind == .newSetElement && $0.subject?.description.hasPrefix("set \(name) ") == true }
                    .map(kernelStyle)
            default: return []
            }
        }
        let status = try #require(try client.status())
        #expect(status.chains.map(\.name) == ["drone_survey", "forward", "output"])
        #expect(status.chains[1].hook == .forward)
        #expect(status.chains[0].rules.count == 3)
        #expect(status.chains[0].rules[0].logPrefix == "dw survey flight-logs ")
        #expect(status.chains[0].rules[0].packets == 0)
        #expect(status.chains[0].rules[1].packets == nil)
        #expect((status.sets.first { $0.name == "endpoints_v4" }?.elementCount) == 2)
        #expect((status.sets.first { $0.name == "learned_v6" }?.elementCount) == 0)

        fake.requestHandler = { (_: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage] in
            throw NetlinkError(kind: .rejected, errno: ENOENT, operation: "request")
        }
        #expect(try client.status() == nil)
    }
}

/// The element nests of a NEWSETELEM/DELSETELEM message.
func elementNests(_ m: NetlinkMessage) -> [NetlinkAttribute] {
    // NFTA_SET_ELEM_LIST_ELEMENTS (3) after nlmsghdr + nfgenmsg
    guard let list = NetlinkAttributes(m.bytes, from: 20, to: m.bytes.count).first(where: { $0.type == 3 }) else { return [] }
    return Array(NetlinkAttributes(m.bytes, from: list.value.lowerBound, to: list.value.upperBound))
}

/// Where each element nest starts, from the message start (as the kernel's error offset counts).
func elementOffsets(_ m: NetlinkMessage) -> [Int] { elementNests(m).map(\.offset) }

/// Payload of attribute `type` in the first element of a set element message.
func elementAttribute(_ m: NetlinkMessage, type: UInt16) -> [UInt8]? {
    guard let first = elementNests(m).first else { return nil }
    return NetlinkAttributes(m.bytes, from: first.value.lowerBound, to: first.value.upperBound)
        .first { $0.type == type }.map { Array(m.bytes[$0.value]) }
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

extension FakeTransportTests {
    /// NFTA_TABLE_FLAGS (2) of a table message, nil when it carries none.
    func tableFlags(_ m: NetlinkMessage) -> UInt32? {
        NetlinkAttributes(m.bytes, from: 20, to: m.bytes.count).first { $0.type == 2 }.map { m.bytes.big32($0.value.lowerBound) }
    }

    @Test func anOwnedTableIsCreatedWithOwnerAndPersistAndFallsBackUnownedWhereTheKernelLacksThem() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake, table: "dronewall")
        client.ownership = .ownedAndPersistent
        let small = Ruleset(table: Table(name: "dronewall", chains: [Chain(name: "x", rules: [])]))
        // A kernel before 6.9 refuses the unknown persist flag on the table (EOPNOTSUPP).
        fake.failures = [3: (errno: EOPNOTSUPP, extendedAck: nil, offset: nil)]
        try client.apply(small, carryingLearnedElements: false)
        #expect(fake.batches.count == 2, "refused once, then applied")
        #expect(tableFlags(fake.batches[0][1]) == nil, "the first NEWTABLE leaves an existing table's flags alone")
        #expect(tableFlags(fake.batches[0][3]) == 0x6, "NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST")
        #expect(tableFlags(fake.batches[1][3]) == 0, "never owner without persist: unowned")
        #expect(client.ownership == .unowned && client.ownershipRefused?.errno == EOPNOTSUPP)

        // Other refusals are not taken for a missing feature.
        let strict = NftablesClient(transport: fake, table: "dronewall")
        strict.ownership = .ownedAndPersistent
        fake.failures = [3: (errno: EPERM, extendedAck: nil, offset: nil)]
        #expect(throws: NetlinkError.self) { try strict.apply(small, carryingLearnedElements: false) }
        #expect(strict.ownership == .ownedAndPersistent)
    }
}
