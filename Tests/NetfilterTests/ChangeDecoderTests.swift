import Testing
@testable import Netfilter

/// The change notifications as bytes (no root): one commit's objects, then its NEWGEN.
@Suite struct ChangeDecoderTests {
    /// An nf_tables notification: type, sender port id, family, then string/u32 attributes.
    func message(_ type: UInt16, sender: UInt32, family: UInt8 = 1, _ attributes: [(UInt16, [UInt8])]) -> NetlinkMessage {
        var b: [UInt8] = []
        b.appendHost32(0)
        b.appendHost16(Nfnetlink.nftables << 8 | type)
        b.appendHost16(0)
        b.appendHost32(0)
        b.appendHost32(sender)
        b += [family, 0, 0, 0]
        for (t, v) in attributes { b.appendAttribute(t, v) }
        b.replaceSubrange(0..<4, with: hostBytes(UInt32(b.count)))
        return NetlinkMessage(bytes: b)
    }

    func string(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }

    @Test func aCommitOfAnotherProgramIsOneChangeNamingItsProcess() {
        var d = NftablesChangeDecoder(table: "dronewall")
        #expect(d.add(message(6, sender: 99, [(1, string("dronewall")), (2, string("forward"))]), ownPortID: 7) == nil)
        let gen = message(15, sender: 0, family: 0, [(1, bigEndianBytes(42)), (2, bigEndianBytes(4242)), (3, string("nft"))])
        let c = d.add(gen, ownPortID: 7)
        #expect(c == ForeignChange(pid: 4242, process: "nft", changes: ["new rule inet dronewall in chain forward"], touchesOwnTable: true))
        #expect(c?.description == "nft (pid 4242): new rule inet dronewall in chain forward")
    }

    @Test func ourOwnWritesAndOtherTablesPlainObjectsAreNotReported() {
        var d = NftablesChangeDecoder(table: "dronewall")
        _ = d.add(message(12, sender: 7, [(1, string("dronewall")), (2, string("learned_v4"))]), ownPortID: 7)
        _ = d.add(message(6, sender: 99, family: 2, [(1, string("filter")), (2, string("input"))]), ownPortID: 7)
        #expect(d.add(message(15, sender: 0, family: 0, [(1, bigEndianBytes(43))]), ownPortID: 7) == nil)
    }

    @Test func aNewBaseChainAnywhereIsReportedWithItsHook() {
        var d = NftablesChangeDecoder(table: "dronewall")
        var hook: [UInt8] = []
        hook.appendAttribute(1, bigEndianBytes(0))  // NFTA_HOOK_HOOKNUM: prerouting
        _ = d.add(message(3, sender: 99, family: 2, [(1, string("nat")), (3, string("pre")), (4, hook)]), ownPortID: 7)
        let c = d.add(message(15, sender: 0, family: 0, [(1, bigEndianBytes(44))]), ownPortID: 7)
        #expect(c?.changes == ["new base chain ip nat pre at hook prerouting"])
        #expect(c?.touchesOwnTable == false && c?.process == nil)
    }
}
