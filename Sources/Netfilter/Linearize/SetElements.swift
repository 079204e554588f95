import CNetfilter
import NftModel
import SourcePlaces

extension Linearizer {
    /// Elements per NEWSETELEM message; keeps each message far below the 64 KiB attribute limit.
    static let elementsPerMessage = 128

    /// How a batch refers to a set, and what nft adds around the elements.
    enum ElementEncoding {
        /// In the batch that creates the set: by its batch id, and interval sets get nft's
        /// interval-end element at zero (nft adds it when a set is created with elements).
        case creatingSet
        /// Added to a set the kernel already holds (no leading zero segment).
        case addingToLiveSet
        /// Deleted from a set the kernel holds.
        case deletingFromLiveSet
    }

    /// NEWSETELEM or DELSETELEM messages for `elements` of `set`, split into chunks.
    func elementMessages(_ set: NamedSet, _ elements: [SetElement],
                         _ encoding: ElementEncoding) throws(NetlinkError) -> [NetlinkMessage] {
        let delete = encoding == .deletingFromLiveSet
        let creating = encoding == .creatingSet
        // A map element is deleted by its key; a value given with it is left out, as nft does.
        var keyed = set
        if delete && elements.allSatisfy({ $0.data == nil }) { keyed.dataType = nil }
        let encoded = try encodeElements(keyed, elements, firstSegment: creating)
        let type = delete ? raw(NFT_MSG_DELSETELEM) : raw(NFT_MSG_NEWSETELEM)
        let header = buildMessage(type, family: family, flags: delete ? 0 : NLM_F_CREATE, capacity: 64) { _ in }
        let setID = creating ? sets[set.name]?.id : nil
        var out: [NetlinkMessage] = []
        var w = AttributeWriter()
        var start = 0
        while start < encoded.count {
            let chunk = encoded[start..<min(start + Linearizer.elementsPerMessage, encoded.count)]
            start += chunk.count
            // What nftnl_set_elems_nlmsg_build_payload writes: set, set id, table, then the elements.
            w.start(header: header)
            w.putString(UInt32(NFTA_SET_ELEM_LIST_SET.rawValue), set.name)
            if let setID { w.putBigEndian32(UInt32(NFTA_SET_ELEM_LIST_SET_ID.rawValue), setID) }
            w.putString(UInt32(NFTA_SET_ELEM_LIST_TABLE.rawValue), tableName)
            let list = w.beginNest(UInt32(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue))
            // Numbered 1, 2, 3 ... as libnftnl numbers them (the kernel reads any number).
            for (i, e) in chunk.enumerated() { try writeElement(&w, number: i + 1, keyed, e, elements) }
            w.endNest(list)
            let what: KernelObject = chunk.count == 1 ? .element(set: set.name, value: chunk.first!.slot.text(elements))
                : .elements(set: set.name, count: chunk.count)
            var m = NetlinkMessage(bytes: w.finish(),
                                   subject: MessageSubject(what, origin: chunk.count == 1 ? elements[chunk.first!.index].origin
                                                                                          : set.origin))
            let name = set.name, origin = set.origin, slots = chunk.map(\.slot)
            m.setParts(count: slots.count) { i in
                MessageSubject(.element(set: name, value: slots[i].text(elements)), origin: elements[Int(slots[i].index)].origin ?? origin)
            }
            out.append(m)
        }
        return out
    }

    /// One kernel element of a set, ready to be written into a message.
    /// Its key is written with the message, from the element: 100k keys held at once add up.
    struct EncodedElement {
        /// Its element's place in the list given (not a copy: 100k of them add up).
        let index: Int
        /// An interval end (NFT_SET_ELEM_INTERVAL_END): the key only.
        let end: Bool
        /// A range that reaches the top of the address space (no end element follows).
        var openEnded = false
        /// How error reports name it.
        let role: Role

        enum Role { case value, end, zero }

        var slot: Slot { Slot(index: Int32(index), role: role) }
    }

    /// Which element an encoded one came from and what it is of it: enough to name it in an
    /// error, a few bytes instead of its text.
    struct Slot: Sendable {
        let index: Int32
        let role: EncodedElement.Role

        /// The value as nft writes it, or the interval marker nft adds.
        func text(_ elements: [SetElement]) -> String {
            let value = NftTextRenderer.render(value: elements[Int(index)].key)
            switch role {
            case .value: return value
            case .end: return "end of \(value)"
            case .zero: return "interval start (0)"
            }
        }
    }

    private func fail(_ set: NamedSet, _ e: SetElement, _ why: String) -> NetlinkError {
        NetlinkError(kind: .invalidRuleset, errno: EINVAL,
                     object: .element(set: set.name, value: NftTextRenderer.render(value: e.key)),
                     origin: e.origin ?? set.origin, operation: "linearize", detail: why)
    }

    /// One element's nest, its attributes in libnftnl's order: flags, timeout, key, value
    /// (verdict or data), userdata.
    private func writeElement(_ w: inout AttributeWriter, number: Int, _ set: NamedSet, _ p: EncodedElement,
                              _ elements: [SetElement]) throws(NetlinkError) {
        let e = elements[p.index]
        let nest = w.beginNest(UInt32(number))
        if p.end { w.putBigEndian32(UInt32(NFTA_SET_ELEM_FLAGS.rawValue), UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue)) }
        if !p.end, let t = e.timeoutMilliseconds { w.putBigEndian64(UInt32(NFTA_SET_ELEM_TIMEOUT.rawValue), t) }
        let key = w.beginNest(UInt32(NFTA_SET_ELEM_KEY.rawValue))
        writeKey(&w, set, p, e)
        w.endNest(key)
        if !p.end {
            if let dataType = set.dataType {
                guard let data = e.data else { throw fail(set, e, "map element without a value") }
                let value = w.beginNest(UInt32(NFTA_SET_ELEM_DATA.rawValue))
                if dataType == .verdict {
                    guard case .verdict(let v) = data else { throw fail(set, e, "verdict map value must be a verdict") }
                    let verdict = w.beginNest(UInt32(NFTA_DATA_VERDICT.rawValue))
                    w.putBigEndian32(UInt32(NFTA_VERDICT_CODE.rawValue), UInt32(bitPattern: v.code))
                    if let chain = v.chain { w.putString(UInt32(NFTA_VERDICT_CHAIN.rawValue), chain) }
                    w.endNest(verdict)
                } else {
                    guard let bytes = data.bytes(as: dataType) else {
                        throw fail(set, e, "value \(NftTextRenderer.render(value: data)) is not of type \(dataType.rawValue)")
                    }
                    w.put(UInt32(NFTA_DATA_VALUE.rawValue), bytes)
                }
                w.endNest(value)
            }
            // Open-ended range: nft records it in element userdata (NFTNL_UDATA_SET_ELEM_FLAGS,
            // NFTNL_SET_ELEM_F_INTERVAL_OPEN), where a comment would go.
            if p.openEnded {
                w.put(UInt32(NFTA_SET_ELEM_USERDATA.rawValue), udataU32(1, 1))
            } else if let c = e.comment {
                w.put(UInt32(NFTA_SET_ELEM_USERDATA.rawValue), udataCommentTLV(c))
            }
        }
        w.endNest(nest)
    }

    /// The key (NFTA_DATA_VALUE) of an encoded element. A network in an address set is written
    /// from its integer; other keys through their bytes (`encodeElements` checked them all).
    private func writeKey(_ w: inout AttributeWriter, _ set: NamedSet, _ p: EncodedElement, _ e: SetElement) {
        let type = UInt32(NFTA_DATA_VALUE.rawValue)
        if case let .network(n) = e.key, set.keyType == .ipv4Address || set.keyType == .ipv6Address {
            let count = n.isIPv4 ? 4 : 16
            switch p.role {
            case .zero: w.putBigEndian(type, 0, count: count)
            case .value: w.putBigEndian(type, n.value, count: count)
            case .end: w.putBigEndian(type, n.lastValue + 1, count: count)  // not open-ended: no overflow
            }
            return
        }
        switch p.role {
        case .zero: w.put(type, [UInt8](repeating: 0, count: set.keyType.byteLength))
        case .value where set.flags.contains(.interval): w.put(type, e.key.range(as: set.keyType)!.first)
        case .value: w.put(type, e.key.bytes(as: set.keyType)!)
        case .end: w.put(type, increment(e.key.range(as: set.keyType)!.last)!)
        }
    }

    /// The checks `writeElement` makes of an element's value, so that a bad one is refused before
    /// any message is built, in the order the elements are encoded.
    private func checkValue(_ set: NamedSet, _ e: SetElement) throws(NetlinkError) {
        guard let dataType = set.dataType else { return }
        guard let data = e.data else { throw fail(set, e, "map element without a value") }
        if dataType == .mark, case .mark = data { return }  // the catalogue maps' case, without its bytes
        if dataType == .verdict {
            guard case .verdict = data else { throw fail(set, e, "verdict map value must be a verdict") }
        } else if data.bytes(as: dataType) == nil {
            throw fail(set, e, "value \(NftTextRenderer.render(value: data)) is not of type \(dataType.rawValue)")
        }
    }

    func encodeElements(_ set: NamedSet, _ elements: [SetElement],
                                firstSegment: Bool) throws(NetlinkError) -> [EncodedElement] {
        guard set.flags.contains(.interval) else {
            var out: [EncodedElement] = []
            for (i, e) in elements.enumerated() {
                guard e.key.bytes(as: set.keyType) != nil else {
                    throw fail(set, e, "key is not a single \(set.keyType.rawValue) (networks need flags interval)")
                }
                try checkValue(set, e)
                out.append(EncodedElement(index: i, end: false, role: .value))
            }
            return out
        }

        // Interval set: each element is a range [first, last]; nft sends its start, then an
        // interval-end element at last + 1 (none when last is the top of the space), sorted.
        var firsts: [[UInt8]] = [] // only for keys that are not networks
        let networks = elements.allSatisfy { if case .network = $0.key { true } else { false } }
        // Networks in an address set: checked, ordered and bounded by their integers (the
        // catalogue's 100k), other keys by their bytes.
        let ipv4 = set.keyType == .ipv4Address
        let addressKeyed = networks && (ipv4 || set.keyType == .ipv6Address)
        func network(_ i: Int) -> IPNetwork {
            if case let .network(n) = elements[i].key { return n }
            preconditionFailure("only called for network keys")
        }
        for (i, e) in elements.enumerated() {
            if addressKeyed ? network(i).isIPv4 != ipv4 : e.key.range(as: set.keyType) == nil {
                throw fail(set, e, "key is not of type \(set.keyType.rawValue)")
            }
            if !networks { firsts.append(e.key.range(as: set.keyType)!.first) }
        }
        let top: UInt128 = ipv4 ? UInt128(UInt32.max) : .max
        func startsAtZero(_ i: Int) -> Bool {
            addressKeyed ? network(i).value == 0 : !elements[i].key.range(as: set.keyType)!.first.contains { $0 != 0 }
        }
        func reachesTop(_ i: Int) -> Bool {
            addressKeyed ? network(i).lastValue == top : !elements[i].key.range(as: set.keyType)!.last.contains { $0 != 0xFF }
        }
        // By first address (for networks of one family, the order of their values), then as listed.
        let order = networks
            ? elements.indices.sorted { (network($0).value, $0) < (network($1).value, $1) }
            : elements.indices.sorted { firsts[$0] != firsts[$1] ? firsts[$0].lexicographicallyPrecedes(firsts[$1]) : $0 < $1 }
        firsts = []
        var out: [EncodedElement] = []
        out.reserveCapacity(2 * order.count + 1)
        if firstSegment, let first = order.first, !startsAtZero(first) {
            out.append(EncodedElement(index: first, end: true, role: .zero))
        }
        for i in order {
            try checkValue(set, elements[i])
            let openEnded = reachesTop(i)
            out.append(EncodedElement(index: i, end: false, openEnded: openEnded, role: .value))
            if !openEnded {
                out.append(EncodedElement(index: i, end: true, role: .end))
            }
        }
        return out
    }
}
