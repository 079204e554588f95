import CNetfilter

/// Set-element messages read back as values, and written as the kernel's dump replies: what a
/// fake kernel needs to answer the learner and `elements(table:set:)` without root.
package enum ElementCodec {
    /// The set and elements of a NEWSETELEM / DELSETELEM / GETSETELEM message; nil for others.
    package static func decode(_ message: NetlinkMessage) -> (set: String, elements: [KernelElement])? {
        guard [.newSetElement, .deleteSetElement, .getSetElement].contains(message.kind) else { return nil }
        let s = SetObject()
        guard withHeader(listElementsNumberedOne(message), { nftnl_set_elems_nlmsg_parse($0, s.ptr) }) >= 0,
              let name = s.string(attr(NFTNL_SET_NAME)) else { return nil }
        return (name, s.elements())
    }

    /// The set a NEWSET message declares; nil for other messages.
    package static func declaredSet(_ message: NetlinkMessage) -> String? {
        guard message.kind == .newSet else { return nil }
        let s = SetObject()
        guard withHeader(message, { nftnl_set_nlmsg_parse($0, s.ptr) }) >= 0 else { return nil }
        return s.string(attr(NFTNL_SET_NAME))
    }

    /// libnftnl numbers the element nests of a message it builds 1, 2, 3 ... (the kernel does not
    /// look at the number), but parses only NFTA_LIST_ELEM (1), which is what the kernel sends:
    /// renumber them so a message we built reads back.
    static func listElementsNumberedOne(_ message: NetlinkMessage) -> NetlinkMessage {
        var m = message
        func u16(_ o: Int) -> Int { Int(m.bytes[o]) | Int(m.bytes[o + 1]) << 8 }
        var o = 16 + 4  // nlmsghdr, nfgenmsg
        while o + 4 <= m.bytes.count {
            let len = u16(o), type = u16(o + 2) & 0x3fff  // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
            guard len >= 4, o + len <= m.bytes.count else { break }
            if type == Int(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue) {
                var e = o + 4
                while e + 4 <= o + len {
                    let elen = u16(e)
                    guard elen >= 4 else { break }
                    let flags = u16(e + 2) & 0xc000, one = Int(NFTA_LIST_ELEM.rawValue) | flags
                    (m.bytes[e + 2], m.bytes[e + 3]) = (UInt8(one & 0xff), UInt8(one >> 8))
                    e += (elen + 3) & ~3
                }
            }
            o += (len + 3) & ~3
        }
        return m
    }

    /// One NEWSETELEM message as a dump reply: `elements` of `set` in `table`, with the time each
    /// has left as the kernel's expiration.
    package static func reply(table: String, set: String, elements: [KernelElement], sequence: UInt32) -> NetlinkMessage {
        let s = SetObject()
        s.setString(attr(NFTNL_SET_TABLE), table)
        s.setString(attr(NFTNL_SET_NAME), set)
        for e in elements {
            let o = ElementObject()
            o.setData(attr(NFTNL_SET_ELEM_KEY), e.key)
            if let d = e.data { o.setData(attr(NFTNL_SET_ELEM_DATA), d) }
            if let t = e.timeoutMilliseconds { o.setU64(attr(NFTNL_SET_ELEM_TIMEOUT), t) }
            if let x = e.expiresMilliseconds { o.setU64(attr(NFTNL_SET_ELEM_EXPIRATION), x) }
            if let c = e.comment { o.setData(attr(NFTNL_SET_ELEM_USERDATA), udataCommentTLV(c)) }
            s.add(o)
        }
        // Every nest NFTA_LIST_ELEM, as the kernel sends it: libnftnl would read only the first otherwise.
        var m = listElementsNumberedOne(NetlinkMessage(bytes: s.elementsMessage(raw(NFT_MSG_NEWSETELEM),
                                                                                family: UInt8(NFPROTO_INET), flags: 0)))
        m.sequence = sequence
        return m
    }
}
