import Testing
@testable import Netfilter
import NetfilterTesting

/// The ctnetlink messages, as bytes (no root).
@Suite struct ConntrackCodecTests {
    @Test func theDumpAsksTheKernelToFilterByMark() {
        let m = NetlinkMessage(bytes: Ctnetlink.dumpRequest(markValue: 0xab12_0000, mask: 0xffff_0000, sequence: 7))
        #expect(m.rawType == 0x0101, "NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET")
        #expect(m.flags == 0x0301, "NLM_F_REQUEST | NLM_F_DUMP")
        #expect(m.family == 0, "AF_UNSPEC: IPv4 and IPv6 in one dump")
        #expect(m.sequence == 7)
        // CTA_MARK (8) then CTA_MARK_MASK (21), each 8 bytes, values big-endian.
        #expect(Array(m.bytes[20...]) == [8, 0, 8, 0, 0xab, 0x12, 0, 0, 8, 0, 21, 0, 0xff, 0xff, 0, 0])
    }

    @Test func anEntryIsReadAndNamedAgainByItsOwnTuple() throws {
        let bytes = Ctnetlink.entry(family: Ctnetlink.inet6, source: "2001:db8:1::2", destination: "2001:db8:e::5",
                                    protocolNumber: 6, ports: (40000, 443), mark: 0xab12_0004)
        let flow = try #require(Ctnetlink.decode(NetlinkMessage(bytes: bytes)))
        #expect(flow.family == Ctnetlink.inet6)
        #expect(flow.source?.description == "2001:db8:1::2" && flow.destination?.description == "2001:db8:e::5")
        #expect(flow.protocolNumber == 6 && flow.sourcePort == 40000 && flow.destinationPort == 443)
        #expect(flow.mark == 0xab12_0004)

        let update = NetlinkMessage(bytes: Ctnetlink.markUpdate(flow, mark: 4, sequence: 9))
        #expect(update.rawType == 0x0100, "IPCTNL_MSG_CT_NEW on an existing entry changes it")
        #expect(update.flags == 0x0005, "NLM_F_REQUEST | NLM_F_ACK, never NLM_F_CREATE")
        #expect(update.family == Ctnetlink.inet6, "the family the tuple is parsed in")
        let again = try #require(Ctnetlink.decode(NetlinkMessage(bytes: Ctnetlink.entry(
            family: Ctnetlink.inet6, source: "2001:db8:1::2", destination: "2001:db8:e::5", protocolNumber: 6,
            ports: (40000, 443), mark: 4))))
        // The update carries the tuple exactly as dumped, then the new mark.
        #expect(Array(update.bytes[20...]) == again.identity + [8, 0, 8, 0, 0, 0, 0, 4])
    }

    @Test func whatIsNotAnEntryIsSkipped() {
        var bytes = Ctnetlink.entry(family: Ctnetlink.inet, source: "192.0.2.2", destination: "203.0.113.5",
                                    protocolNumber: 17, ports: (1, 2), mark: 1)
        bytes[4] = 1  // another message type
        #expect(Ctnetlink.decode(NetlinkMessage(bytes: bytes)) == nil)
        // A header only: no tuple, nothing to name it by.
        #expect(Ctnetlink.decode(NetlinkMessage(bytes: Ctnetlink.message(Ctnetlink.new, flags: 0, family: 2,
                                                                           sequence: 0, []))) == nil)
        // A tuple attribute whose length runs past the message: read up to it, no crash.
        var cut = Ctnetlink.entry(family: Ctnetlink.inet, source: "192.0.2.2", destination: "203.0.113.5",
                                  protocolNumber: 17, ports: (1, 2), mark: 1)
        cut[20] = 0xff
        #expect(Ctnetlink.decode(NetlinkMessage(bytes: cut)) == nil)
    }
}
