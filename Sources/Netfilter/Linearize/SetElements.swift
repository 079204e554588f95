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
        var out: [NetlinkMessage] = []
        var start = 0
        while start < encoded.count {
            let chunk = encoded[start..<min(start + Linearizer.elementsPerMessage, encoded.count)]
            start += chunk.count
            let s = SetObject()
            s.setString(attr(NFTNL_SET_TABLE), tableName)
            s.setString(attr(NFTNL_SET_NAME), set.name)
            if creating, let id = sets[set.name]?.id { s.setU32(attr(NFTNL_SET_ID), id) }
            for e in chunk { s.add(e.object) }
            let type = delete ? raw(NFT_MSG_DELSETELEM) : raw(NFT_MSG_NEWSETELEM)
            let what: KernelObject = chunk.count == 1 ? .element(set: set.name, value: chunk.first!.value)
                : .elements(set: set.name, count: chunk.count)
            var m = NetlinkMessage(bytes: s.elementsMessage(type, family: family, flags: delete ? 0 : NLM_F_CREATE),
                                   subject: MessageSubject(what, origin: chunk.count == 1 ? chunk.first!.origin
                                                                                          : set.origin))
            m.parts = chunk.map { MessageSubject(.element(set: set.name, value: $0.value), origin: $0.origin ?? set.origin) }
            out.append(m)
        }
        return out
    }

    struct EncodedElement {
        let object: ElementObject
        /// How error reports name it: the value as nft writes it, or an interval marker.
        let value: String
        let origin: SourceLocation?
    }

    private func encodeElements(_ set: NamedSet, _ elements: [SetElement],
                                firstSegment: Bool) throws(NetlinkError) -> [EncodedElement] {
        func fail(_ e: SetElement, _ why: String) -> NetlinkError {
            NetlinkError(kind: .invalidRuleset, errno: EINVAL,
                         object: .element(set: set.name, value: NftTextRenderer.render(value: e.key)),
                         origin: e.origin ?? set.origin, operation: "linearize", detail: why)
        }
        func makeElement(key: [UInt8], _ e: SetElement, end: Bool) throws(NetlinkError) -> ElementObject {
            let o = ElementObject()
            if end { o.setU32(attr(NFTNL_SET_ELEM_FLAGS), UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue)) }
            o.setData(attr(NFTNL_SET_ELEM_KEY), key)
            guard !end else { return o }
            if let t = e.timeoutMilliseconds { o.setU64(attr(NFTNL_SET_ELEM_TIMEOUT), t) }
            if let c = e.comment { o.setData(attr(NFTNL_SET_ELEM_USERDATA), udataCommentTLV(c)) }
            if let dataType = set.dataType {
                guard let data = e.data else { throw fail(e, "map element without a value") }
                if dataType == .verdict {
                    guard case .verdict(let v) = data else { throw fail(e, "verdict map value must be a verdict") }
                    o.setU32(attr(NFTNL_SET_ELEM_VERDICT), UInt32(bitPattern: v.code))
                    if let chain = v.chain { o.setString(attr(NFTNL_SET_ELEM_CHAIN), chain) }
                } else {
                    guard let bytes = data.bytes(as: dataType) else {
                        throw fail(e, "value \(NftTextRenderer.render(value: data)) is not of type \(dataType.rawValue)")
                    }
                    o.setData(attr(NFTNL_SET_ELEM_DATA), bytes)
                }
            }
            return o
        }

        guard set.flags.contains(.interval) else {
            var out: [EncodedElement] = []
            for e in elements {
                guard let key = e.key.bytes(as: set.keyType) else {
                    throw fail(e, "key is not a single \(set.keyType.rawValue) (networks need flags interval)")
                }
                out.append(EncodedElement(object: try makeElement(key: key, e, end: false),
                                          value: NftTextRenderer.render(value: e.key), origin: e.origin))
            }
            return out
        }

        // Interval set: each element is a range [first, last]; nft sends its start, then an
        // interval-end element at last + 1 (none when last is the top of the space), sorted.
        var ranges: [(first: [UInt8], last: [UInt8], element: SetElement)] = []
        for e in elements {
            guard let r = e.key.range(as: set.keyType) else {
                throw fail(e, "key is not of type \(set.keyType.rawValue)")
            }
            ranges.append((r.first, r.last, e))
        }
        ranges.sort { $0.first.lexicographicallyPrecedes($1.first) }
        var out: [EncodedElement] = []
        if firstSegment, let first = ranges.first, first.first.contains(where: { $0 != 0 }) {
            let zero = [UInt8](repeating: 0, count: first.first.count)
            out.append(EncodedElement(object: try makeElement(key: zero, first.element, end: true),
                                      value: "interval start (0)", origin: first.element.origin))
        }
        for r in ranges {
            let start = try makeElement(key: r.first, r.element, end: false)
            let after = increment(r.last)
            if after == nil {
                // Open-ended range: nft records it in element userdata (NFTNL_SET_ELEM_F_INTERVAL_OPEN).
                start.setData(attr(NFTNL_SET_ELEM_USERDATA), udataU32(1 /* NFTNL_UDATA_SET_ELEM_FLAGS */, 1))
            }
            let text = NftTextRenderer.render(value: r.element.key)
            out.append(EncodedElement(object: start, value: text, origin: r.element.origin))
            if let after {
                out.append(EncodedElement(object: try makeElement(key: after, r.element, end: true),
                                          value: "end of \(text)", origin: r.element.origin))
            }
        }
        return out
    }
}
