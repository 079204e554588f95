import CNetfilter
import NftModel
@testable import Netfilter
import Testing

/// Set elements are written straight into the message (`AttributeWriter`), not through libnftnl
/// objects. The bytes must be libnftnl's: each case here builds the same messages both ways,
/// the reference through the libnftnl objects the linearizer used before, and compares them.
@Suite struct LinearizerElementTests {
    func net(_ s: String) -> IPNetwork { try! IPNetwork.parse(s) }

    /// What the linearizer wrote with libnftnl: one object per element, one message per chunk.
    func reference(_ lin: Linearizer, _ set: NamedSet, _ elements: [SetElement],
                   _ encoding: Linearizer.ElementEncoding) throws -> [[UInt8]] {
        let delete = encoding == .deletingFromLiveSet
        var keyed = set
        if delete && elements.allSatisfy({ $0.data == nil }) { keyed.dataType = nil }
        let encoded = try lin.encodeElements(keyed, elements, firstSegment: encoding == .creatingSet)
        var out: [[UInt8]] = []
        for start in stride(from: 0, to: encoded.count, by: Linearizer.elementsPerMessage) {
            let s = SetObject()
            s.setString(attr(NFTNL_SET_TABLE), lin.tableName)
            s.setString(attr(NFTNL_SET_NAME), set.name)
            if encoding == .creatingSet, let id = lin.sets[set.name]?.id { s.setU32(attr(NFTNL_SET_ID), id) }
            for p in encoded[start..<min(start + Linearizer.elementsPerMessage, encoded.count)] {
                let o = ElementObject()
                let e = elements[p.index]
                if p.end { o.setU32(attr(NFTNL_SET_ELEM_FLAGS), UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue)) }
                let key: [UInt8]
                switch p.role {
                case .zero: key = [UInt8](repeating: 0, count: keyed.keyType.byteLength)
                case .value where keyed.flags.contains(.interval): key = e.key.range(as: keyed.keyType)!.first
                case .value: key = e.key.bytes(as: keyed.keyType)!
                case .end: key = increment(e.key.range(as: keyed.keyType)!.last)!
                }
                o.setData(attr(NFTNL_SET_ELEM_KEY), key)
                if !p.end {
                    if let t = e.timeoutMilliseconds { o.setU64(attr(NFTNL_SET_ELEM_TIMEOUT), t) }
                    if let c = e.comment { o.setData(attr(NFTNL_SET_ELEM_USERDATA), udataCommentTLV(c)) }
                    if let dataType = keyed.dataType, let data = e.data {
                        if case .verdict(let v) = data {
                            o.setU32(attr(NFTNL_SET_ELEM_VERDICT), UInt32(bitPattern: v.code))
                            if let chain = v.chain { o.setString(attr(NFTNL_SET_ELEM_CHAIN), chain) }
                        } else {
                            o.setData(attr(NFTNL_SET_ELEM_DATA), data.bytes(as: dataType)!)
                        }
                    }
                    if p.openEnded { o.setData(attr(NFTNL_SET_ELEM_USERDATA), udataU32(1, 1)) }
                }
                s.add(o)
            }
            out.append(s.elementsMessage(delete ? raw(NFT_MSG_DELSETELEM) : raw(NFT_MSG_NEWSETELEM),
                                         family: lin.family, flags: delete ? 0 : NLM_F_CREATE))
        }
        return out
    }

    func expectLibnftnlBytes(_ set: NamedSet, _ elements: [SetElement], _ encoding: Linearizer.ElementEncoding,
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
        var table = Table(name: "dronewall", sets: [NamedSet(name: "before", keyType: .mark), set])
        table.sets[1].elements = []
        let lin = Linearizer(table: table, live: encoding == .creatingSet ? [] : [set.name])
        let written = try lin.elementMessages(set, elements, encoding).map(\.bytes)
        let expected = try reference(lin, set, elements, encoding)
        #expect(written.count == expected.count, "messages", sourceLocation: sourceLocation)
        for (i, (w, e)) in zip(written, expected).enumerated() where w != e {
            let at = (0..<min(w.count, e.count)).first { w[$0] != e[$0] } ?? min(w.count, e.count)
            let hex = { (b: [UInt8]) in b[max(0, at - 8)..<min(b.count, at + 16)].map { String($0, radix: 16) }.joined(separator: " ") }
            Issue.record(Comment(rawValue: "\(set.name) \(encoding) message \(i): first difference at byte \(at) of \(w.count) "
                                 + "(libnftnl: \(e.count) bytes): written \(hex(w)), libnftnl \(hex(e))"),
                         sourceLocation: sourceLocation)
        }
    }

    @Test func intervalMapsOfNetworksBothFamiliesWithOpenEndsAndComments() throws {
        let v4 = NamedSet(name: "endpoints_v4", keyType: .ipv4Address, dataType: .mark, flags: [.interval, .map])
        let v4Elements = [
            SetElement(key: .network(net("198.51.100.7")), data: .mark(0x24)),
            SetElement(key: .network(net("192.0.2.0/24")), data: .mark(0x1), comment: "flysafe-api.dji.com"),
            SetElement(key: .network(net("255.255.255.0/24")), data: .mark(0x1_0000)),  // reaches the top: open-ended
            SetElement(key: .network(net("203.0.113.128/25")), data: .mark(0xFFFF_FFFF)),
        ]
        try expectLibnftnlBytes(v4, v4Elements, .creatingSet)
        try expectLibnftnlBytes(v4, v4Elements, .addingToLiveSet)
        try expectLibnftnlBytes(v4, v4Elements, .deletingFromLiveSet)
        try expectLibnftnlBytes(v4, v4Elements.map { SetElement(key: $0.key) }, .deletingFromLiveSet)
        let v6 = NamedSet(name: "endpoints_v6", keyType: .ipv6Address, dataType: .mark, flags: [.interval, .map])
        try expectLibnftnlBytes(v6, [SetElement(key: .network(net("2001:db8::/32")), data: .mark(7)),
                                     SetElement(key: .network(net("64:ff9b::c000:200/120")), data: .mark(1)),
                                     SetElement(key: .network(net("ffff::/16")), data: .mark(2))], .creatingSet)
        // From zero: no leading zero segment.
        try expectLibnftnlBytes(NamedSet(name: "everything", keyType: .ipv4Address, flags: .interval),
                                [SetElement(key: .network(net("0.0.0.0/0")))], .creatingSet)
    }

    @Test func learnedAddressesWithTimeoutsCommentsAndMarks() throws {
        let learned = NamedSet(name: "learned_v6", keyType: .ipv6Address, dataType: .mark, flags: .timeout)
        try expectLibnftnlBytes(learned, [
            SetElement(key: .network(net("2001:db8:c::7")), data: .mark(0x40), timeoutMilliseconds: 3_600_000,
                       comment: "telemetry-relay.dji.com"),
            SetElement(key: .network(net("2001:db8::1")), data: .mark(1), timeoutMilliseconds: 1),
        ], .addingToLiveSet)
        let host = NamedSet(name: "drone_a_allow_dns_v4", keyType: .ipv4Address, flags: .timeout)
        try expectLibnftnlBytes(host, [SetElement(key: .network(net("203.0.113.9")), timeoutMilliseconds: 90_000,
                                                  comment: String(repeating: "x", count: 200) + ".example.org")],
                                .addingToLiveSet)
        try expectLibnftnlBytes(host, [SetElement(key: .network(net("203.0.113.9")))], .deletingFromLiveSet)
    }

    @Test func verdictMapsAndOtherKeyTypes() throws {
        try expectLibnftnlBytes(NamedSet(name: "by_interface", keyType: .interfaceName, dataType: .verdict, flags: .map),
                                [SetElement(key: .interfaceName("wlan0"), data: .verdict(.jump("drone_alpha"))),
                                 SetElement(key: .interfaceName("usb0"), data: .verdict(.goto("drone_a_long_name"))),
                                 SetElement(key: .interfaceName("eth1"), data: .verdict(.drop))], .creatingSet)
        try expectLibnftnlBytes(NamedSet(name: "by_mac", keyType: .etherAddress, dataType: .verdict, flags: .map),
                                [SetElement(key: .ether([2, 0, 0, 0, 0, 1]), data: .verdict(.jump("drone_b")))],
                                .creatingSet)
        try expectLibnftnlBytes(NamedSet(name: "by_uid", keyType: .uid, dataType: .verdict, flags: .map),
                                [SetElement(key: .uid(1000), data: .verdict(.accept))], .addingToLiveSet)
        try expectLibnftnlBytes(NamedSet(name: "ports", keyType: .inetService),
                                [SetElement(key: .port(53)), SetElement(key: .port(853))], .creatingSet)
    }

    @Test func manyElementsSplitIntoMessagesAlike() throws {
        let elements = (0..<700).map { i in
            SetElement(key: .network(IPNetwork(value: UInt128(0x0A00_0000 + i * 256), prefixLength: 24, isIPv4: true)),
                       data: .mark(UInt32(i)))
        }
        let set = NamedSet(name: "catalogue_v4", keyType: .ipv4Address, dataType: .mark, flags: [.interval, .map])
        try expectLibnftnlBytes(set, elements, .creatingSet)
    }
}
