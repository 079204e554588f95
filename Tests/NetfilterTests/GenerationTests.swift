import Testing
import NftModel
@testable import Netfilter
import NetfilterTesting
#if canImport(Glibc)
import Glibc
#endif

/// The carry-over race of `apply`: the learned elements are read, then the table is replaced;
/// an element the learner commits in between must not be lost with the old table. No root.
@Suite struct GenerationTests {
    /// Two learned maps (timeout, not interval: what the fake kernel models) and a chain using one.
    static var ruleset: Ruleset {
        Ruleset(table: Table(name: "dronewall", sets: [
            NamedSet(name: "learned_v4", keyType: .ipv4Address, dataType: .mark, flags: .timeout,
                     elements: [SetElement(key: .network(Fixtures.net("198.51.100.9")), data: .mark(1),
                                           timeoutMilliseconds: 3_600_000)]),
            NamedSet(name: "learned_v6", keyType: .ipv6Address, dataType: .mark, flags: .timeout),
        ], chains: [Chain(name: "forward", base: BaseChainSpec(hook: .forward),
                          rules: [Rule([], [.setConntrackMark(.lookup(.ipv4Destination, map: "learned_v4"))])])]))
    }

    static func learned(_ key: [UInt8], mark: UInt8, name: String) -> KernelElement {
        KernelElement(key: key, data: [mark, 0, 0, 0], timeoutMilliseconds: 600_000, comment: name)
    }

    static let early = learned([203, 0, 113, 5], mark: 2, name: "early.example")
    static let racing = learned([203, 0, 113, 6], mark: 4, name: "racing.example")
    static let racingV6 = learned([0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [6], mark: 4,
                                  name: "racing6.example")

    @Test func theBatchBeginCarriesTheGenerationReadBeforeTheDump() throws {
        let fake = RecordingTransport()
        fake.generation = 0x0102_0304
        let client = NftablesClient(transport: fake, table: "dronewall")
        try client.apply(Self.ruleset)
        // GETGEN first, then one dump per learned set, then the batch.
        #expect(fake.requests.map { GenerationCodec.isRequest($0) } == [true, false, false])
        #expect(fake.requests.dropFirst().map(\.kind) == [.getSetElement, .getSetElement])
        let begin = try #require(fake.batches.first?.first)
        #expect(begin.kind == .batchBegin)
        // nlmsghdr + nfgenmsg, then NFNL_BATCH_GENID (type 1, length 8) holding the id big-endian.
        #expect(begin.length == 28)
        #expect(Array(begin.bytes[20..<28]) == [8, 0, 1, 0, 0x01, 0x02, 0x03, 0x04])

        // Nothing to carry, nothing to guard: no generation read, a plain batch begin.
        try client.apply(Self.ruleset, carryingLearnedElements: false)
        #expect(fake.requests.count == 3)
        #expect(fake.batches[1][0].length == 20)
        #expect(GenerationCodec.generation(ofBatchBegin: fake.batches[1][0]) == nil)
    }

    @Test func anElementLearnedBetweenDumpAndBatchIsCarried() throws {
        let kernel = FakeSetKernel()
        let client = NftablesClient(transport: kernel, table: "dronewall")
        var pauses: [Int] = []
        client.pause = { pauses.append($0) }
        try client.apply(Self.ruleset, carryingLearnedElements: false)
        kernel.hold("learned_v4", Self.early)
        // The learner commits one element after the dump of each of the next two tries.
        kernel.racingWrites = [("learned_v4", Self.racing), ("learned_v6", Self.racingV6)]
        let before = kernel.generation

        let carried = try client.apply(Self.ruleset)

        #expect(kernel.batchGenerations.dropFirst() == [before, before + 1, before + 2])
        #expect(kernel.staleRefused == [1, 2], "both stale batches refused whole")
        #expect(kernel.generationReads == 3)
        #expect(kernel.dumps == ["learned_v4", "learned_v6", "learned_v4", "learned_v6", "learned_v4", "learned_v6"])
        #expect(carried == 3)
        for (set, e) in [("learned_v4", Self.early), ("learned_v4", Self.racing), ("learned_v6", Self.racingV6)] {
            let held = try #require(kernel.element(set, e.key), "\(e.comment!) lost with the old table")
            #expect(held.data == e.data)
            #expect(held.comment == e.comment)
        }
        #expect(kernel.element("learned_v4", [198, 51, 100, 9]) != nil, "the ruleset's own element")
        #expect(pauses == [10, 20])
    }

    @Test func retriesAreBoundedAndLeaveTheTableUntouched() throws {
        let kernel = FakeSetKernel()
        let client = NftablesClient(transport: kernel, table: "dronewall")
        var pauses: [Int] = []
        client.pause = { pauses.append($0) }
        client.generationRetry = .init(attempts: 4, pauseMilliseconds: 5)
        kernel.hold("learned_v4", Self.early)
        kernel.racingWrites = (0..<6).map { ("learned_v4", Self.learned([203, 0, 113, 100 + UInt8($0)], mark: 2, name: "w\($0)")) }

        let e = try #require(throws: NetlinkError.self) { try client.apply(Self.ruleset) }

        #expect(e.errno == ERESTART)
        #expect(e.errnoName == "ERESTART")
        #expect(e.kind == .rejected)
        #expect(e.object == .batch)
        #expect(e.operation == "apply")
        #expect(e.description.contains("4 times in a row"), "\(e)")
        #expect(e.description.contains("the running table is unchanged"), "\(e)")
        #expect(kernel.batches.count == 4)
        #expect(kernel.staleRefused == [0, 1, 2, 3])
        #expect(pauses == [5, 10, 15])
        // Nothing of the new ruleset landed: its own element is absent, everything learned is there.
        #expect(kernel.element("learned_v4", [198, 51, 100, 9]) == nil)
        #expect(kernel.element("learned_v4", Self.early.key) != nil)
        #expect(kernel.sets["learned_v4"]?.count == 5)
        #expect(kernel.racingWrites.count == 2)
    }

    @Test func anInterruptedDumpIsReadAgain() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake, table: "dronewall")
        client.pause = { _ in }
        var dumps = 0
        fake.requestHandler = { (_: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage] in
            dumps += 1
            if dumps == 1 {
                throw NetlinkError(kind: .protocolViolation, errno: EINTR, operation: "dump",
                                   detail: "dump interrupted by a concurrent change")
            }
            return []
        }
        try client.apply(Self.ruleset)
        #expect(fake.requests.filter { GenerationCodec.isRequest($0) }.count == 2, "a new generation for the new try")
        #expect(dumps == 3)
        #expect(fake.batches.count == 1)
    }

    @Test func otherRefusalsAreNotRetried() throws {
        let fake = RecordingTransport()
        let client = NftablesClient(transport: fake, table: "dronewall")
        client.pause = { _ in Issue.record("no retry expected") }
        let batch = try client.applyBatch(Self.ruleset)
        let k = try #require(batch.firstIndex { $0.kind == .newRule })
        // ERESTART against an object (not the batch begin) is not the generation check.
        fake.failures = [k: (errno: ERESTART, extendedAck: nil, offset: nil)]
        let e = try #require(throws: NetlinkError.self) { try client.apply(Self.ruleset) }
        #expect(e.object == .rule(chain: "forward", index: 1))
        fake.failures = [0: (errno: EPERM, extendedAck: nil, offset: nil)]
        #expect(throws: NetlinkError.self) { try client.apply(Self.ruleset) }
        #expect(fake.batches.count == 2)
    }

    @Test func generationRepliesReadBack() throws {
        let reply = GenerationCodec.reply(generation: 0xCAFE_0007, sequence: 9)
        #expect(GenerationCodec.generation(ofReply: reply) == 0xCAFE_0007)
        #expect(reply.sequence == 9)
        #expect(Array(reply.bytes[16..<20]) == [0, 0, 0x00, 0x07], "AF_UNSPEC, v0, low 16 bits big-endian")
        #expect(GenerationCodec.generation(ofReply: GenerationCodec.request()) == nil)
        let request = GenerationCodec.request()
        #expect(request.rawType == 0x0A10, "NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETGEN")
        #expect(request.flags == 0x1, "NLM_F_REQUEST only, as nft sends it")
    }
}
