import CNetfilter
import NftModel

/// Turns the IR into nf_tables netlink messages, the way `nft -f` linearizes the same text.
///
/// The goal is that `nft list table inet dronewall` prints the same whether the table came
/// from `nft -f` of the rendered text or from our batch: same expressions, same protocol
/// dependencies (`meta nfproto`, `meta iiftype`), same set userdata and interval encoding.
struct Linearizer {
    let family: UInt8
    let tableName: String
    /// Sets of the table being created, by name, with the batch-local id nft would give them.
    var sets: [String: (set: NamedSet, id: UInt32)] = [:]

    /// Elements per NEWSETELEM message; keeps each message far below the 64 KiB attribute limit.
    static let elementsPerMessage = 128

    init(table: Table) {
        family = table.family.nfproto
        tableName = table.name
        for (i, s) in table.sets.enumerated() { sets[s.name] = (s, UInt32(i + 1)) }
    }

    init(family: TableFamily, tableName: String) {
        self.family = family.nfproto
        self.tableName = tableName
    }

    // MARK: tables

    func tableMessage(_ type: UInt32, flags: Int32, comment: String? = nil) -> NetlinkMessage {
        let t = TableObject(family: family, name: tableName)
        if type == raw(NFT_MSG_NEWTABLE) { nftnl_table_set_u32(t.ptr, attr(NFTNL_TABLE_FLAGS), 0) }
        if let comment { t.setData(attr(NFTNL_TABLE_USERDATA), udataCommentTLV(comment)) }
        return NetlinkMessage(bytes: t.message(type, family: family, flags: flags),
                              subject: MessageSubject("table \(TableFamily(nfproto: family)) \(tableName)"))
    }

    // MARK: chains

    func chainMessage(_ chain: Chain) -> NetlinkMessage {
        let c = ChainObject()
        c.setString(attr(NFTNL_CHAIN_TABLE), tableName)
        c.setString(attr(NFTNL_CHAIN_NAME), chain.name)
        if let base = chain.base {
            c.setString(attr(NFTNL_CHAIN_TYPE), base.type.rawValue)
            c.setU32(attr(NFTNL_CHAIN_HOOKNUM), base.hook.number)
            c.setS32(attr(NFTNL_CHAIN_PRIO), base.priority)
            c.setU32(attr(NFTNL_CHAIN_POLICY), base.policy == .accept ? UInt32(NF_ACCEPT) : UInt32(NF_DROP))
        }
        return NetlinkMessage(bytes: c.message(raw(NFT_MSG_NEWCHAIN), family: family, flags: NLM_F_CREATE),
                              subject: MessageSubject("chain \(chain.name)", origin: chain.origin))
    }

    // MARK: sets

    func setMessage(_ set: NamedSet) -> NetlinkMessage {
        let s = SetObject()
        s.setString(attr(NFTNL_SET_TABLE), tableName)
        s.setString(attr(NFTNL_SET_NAME), set.name)
        s.setU32(attr(NFTNL_SET_FLAGS), set.flags.rawValue)
        // A concatenated key: nft's type id packs the parts 6 bits each; every part takes
        // whole 32-bit registers, so the key length rounds each part up to 4 bytes.
        s.setU32(attr(NFTNL_SET_KEY_TYPE), set.keyTypes.reduce(UInt32(0)) { $0 << 6 | $1.nftTypeID })
        let keyLength = set.keyParts == nil ? set.keyType.byteLength
                                            : set.keyTypes.reduce(0) { $0 + registerBytes($1.byteLength) }
        s.setU32(attr(NFTNL_SET_KEY_LEN), UInt32(keyLength))
        if let size = set.size { s.setU32(attr(NFTNL_SET_DESC_SIZE), size) }
        if let t = set.timeoutMilliseconds { s.setU64(attr(NFTNL_SET_TIMEOUT), t) }
        if let data = set.dataType {
            // The kernel knows verdict data as NFT_DATA_VERDICT, not nft's TYPE_VERDICT.
            s.setU32(attr(NFTNL_SET_DATA_TYPE), data == .verdict ? NFT_DATA_VERDICT.rawValue : data.nftTypeID)
            s.setU32(attr(NFTNL_SET_DATA_LEN), UInt32(data.byteLength))
        }
        if let id = sets[set.name]?.id { s.setU32(attr(NFTNL_SET_ID), id) }
        // nft stores the byte order of key and data so that `nft list` prints values right.
        var udata: [UInt8] = []
        udata += udataU32(0 /* NFTNL_UDATA_SET_KEYBYTEORDER */, set.keyParts == nil ? set.keyType.nftByteOrder : 0)
        if let data = set.dataType {
            udata += udataU32(1 /* NFTNL_UDATA_SET_DATABYTEORDER */, data.nftByteOrder)
        }
        s.setData(attr(NFTNL_SET_USERDATA), udata)
        return NetlinkMessage(bytes: s.message(raw(NFT_MSG_NEWSET), family: family, flags: NLM_F_CREATE),
                              subject: MessageSubject("set \(set.name)", origin: set.origin))
    }

    /// NEWSETELEM or DELSETELEM messages for `elements` of `set`, split into chunks.
    ///
    /// `firstSegment`: for interval sets, whether to add nft's interval-end element at zero
    /// (nft does when the set is created with elements or is empty; not on later updates).
    func elementMessages(_ set: NamedSet, _ elements: [SetElement], delete: Bool, firstSegment: Bool,
                         withSetID: Bool) throws(NetlinkError) -> [NetlinkMessage] {
        // A map element is deleted by its key; a value given with it is left out, as nft does.
        var keyed = set
        if delete && elements.allSatisfy({ $0.data == nil }) { keyed.dataType = nil }
        let encoded = try encodeElements(keyed, elements, firstSegment: firstSegment)
        var out: [NetlinkMessage] = []
        var start = 0
        while start < encoded.count {
            let chunk = encoded[start..<min(start + Linearizer.elementsPerMessage, encoded.count)]
            start += chunk.count
            let s = SetObject()
            s.setString(attr(NFTNL_SET_TABLE), tableName)
            s.setString(attr(NFTNL_SET_NAME), set.name)
            if withSetID, let id = sets[set.name]?.id { s.setU32(attr(NFTNL_SET_ID), id) }
            for e in chunk { s.add(e.object) }
            let type = delete ? raw(NFT_MSG_DELSETELEM) : raw(NFT_MSG_NEWSETELEM)
            let what = chunk.count == 1 ? "set \(set.name) element \(chunk.first!.subject.description)"
                : "set \(set.name) elements (\(chunk.count))"
            var m = NetlinkMessage(bytes: s.elementsMessage(type, family: family, flags: delete ? 0 : NLM_F_CREATE),
                                   subject: MessageSubject(what, origin: chunk.count == 1 ? chunk.first!.subject.origin
                                                                                          : set.origin))
            m.parts = chunk.map { MessageSubject("set \(set.name) element \($0.subject.description)",
                                                 origin: $0.subject.origin ?? set.origin) }
            out.append(m)
        }
        return out
    }

    struct EncodedElement {
        let object: ElementObject
        let subject: MessageSubject
    }

    private func encodeElements(_ set: NamedSet, _ elements: [SetElement],
                                firstSegment: Bool) throws(NetlinkError) -> [EncodedElement] {
        func fail(_ e: SetElement, _ why: String) -> NetlinkError {
            NetlinkError(kind: .invalidRuleset, errno: EINVAL, object: "set \(set.name) element \(e.key.text)",
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
                        throw fail(e, "value \(data.text) is not of type \(dataType.rawValue)")
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
                                          subject: MessageSubject(e.key.text, origin: e.origin)))
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
                                      subject: MessageSubject("interval start (0)", origin: first.element.origin)))
        }
        for r in ranges {
            let start = try makeElement(key: r.first, r.element, end: false)
            let after = increment(r.last)
            if after == nil {
                // Open-ended range: nft records it in element userdata (NFTNL_SET_ELEM_F_INTERVAL_OPEN).
                start.setData(attr(NFTNL_SET_ELEM_USERDATA), udataU32(1 /* NFTNL_UDATA_SET_ELEM_FLAGS */, 1))
            }
            out.append(EncodedElement(object: start, subject: MessageSubject(r.element.key.text, origin: r.element.origin)))
            if let after {
                out.append(EncodedElement(object: try makeElement(key: after, r.element, end: true),
                                          subject: MessageSubject("end of \(r.element.key.text)",
                                                                  origin: r.element.origin)))
            }
        }
        return out
    }

    // MARK: rules

    func ruleMessage(_ rule: Rule, chain: Chain, index: Int) throws(NetlinkError) -> NetlinkMessage {
        let subject = MessageSubject("rule \(index + 1) in chain \(chain.name)", origin: rule.origin ?? chain.origin)
        let r = RuleObject()
        r.setU32(attr(NFTNL_RULE_FAMILY), UInt32(family))
        r.setString(attr(NFTNL_RULE_TABLE), tableName)
        r.setString(attr(NFTNL_RULE_CHAIN), chain.name)
        var builder = RuleBuilder(rule: r, linearizer: self, subject: subject)
        for m in rule.matches { try builder.match(m) }
        for s in rule.statements { try builder.statement(s) }
        if let a = rule.action { try builder.action(a) }
        builder.finish()
        return NetlinkMessage(bytes: r.message(raw(NFT_MSG_NEWRULE), family: family,
                                               flags: NLM_F_CREATE | NLM_F_APPEND),
                              subject: subject)
    }
}

/// Appends the expressions of one rule, adding each protocol dependency once, as nft does.
struct RuleBuilder {
    let rule: RuleObject
    let linearizer: Linearizer
    let subject: MessageSubject
    private var nfproto: UInt8?
    private var etherDependency = false
    /// True once the rule has loaded from the link-layer header as Ethernet.
    private var linkIsEther = false
    /// The layer-4 protocol the rule already depends on (`meta l4proto`), if any.
    private var l4proto: UInt8?

    /// What an expression is, where the payload merge below needs to know.
    enum Tag { case payload(base: UInt32, offset: UInt32, length: UInt32), cmpEqual([UInt8]), other }
    /// Expressions are collected first so that the last ones can still be merged, then emitted.
    private var pending: [(name: String, tag: Tag, configure: (Expression) -> Void)] = []

    mutating func append(_ name: String, tag: Tag = .other, _ configure: @escaping (Expression) -> Void) {
        pending.append((name, tag, configure))
    }

    /// Writes the collected expressions into the libnftnl rule.
    func finish() {
        for e in pending { rule.append(e.name, e.configure) }
    }

    static let reg1 = UInt32(NFT_REG_1.rawValue)
    static let regVerdict = UInt32(NFT_REG_VERDICT.rawValue)

    init(rule: RuleObject, linearizer: Linearizer, subject: MessageSubject) {
        self.rule = rule
        self.linearizer = linearizer
        self.subject = subject
    }

    func fail(_ why: String) -> NetlinkError {
        NetlinkError(kind: .invalidRuleset, errno: EINVAL, object: subject.description, origin: subject.origin,
                     operation: "linearize", detail: why)
    }

    // Expression helpers (one kernel expression each).
    mutating func meta(_ key: UInt32, _ dreg: UInt32 = reg1) {
        append("meta") { $0.u32(NFTNL_EXPR_META_KEY, key); $0.u32(NFTNL_EXPR_META_DREG, dreg) }
    }
    mutating func payload(_ base: UInt32, offset: UInt32, length: UInt32, dreg: UInt32 = reg1) {
        append("payload", tag: dreg == RuleBuilder.reg1 ? .payload(base: base, offset: offset, length: length) : .other) {
            $0.u32(NFTNL_EXPR_PAYLOAD_DREG, dreg)
            $0.u32(NFTNL_EXPR_PAYLOAD_BASE, base)
            $0.u32(NFTNL_EXPR_PAYLOAD_OFFSET, offset)
            $0.u32(NFTNL_EXPR_PAYLOAD_LEN, length)
        }
    }
    mutating func cmp(_ negated: Bool, _ data: [UInt8]) {
        append("cmp", tag: negated ? .other : .cmpEqual(data)) {
            $0.u32(NFTNL_EXPR_CMP_SREG, RuleBuilder.reg1)
            $0.u32(NFTNL_EXPR_CMP_OP, negated ? raw(NFT_CMP_NEQ) : raw(NFT_CMP_EQ))
            $0.data(NFTNL_EXPR_CMP_DATA, data)
        }
    }
    mutating func bitwise(mask: [UInt8], xor: [UInt8]) {
        append("bitwise") {
            $0.u32(NFTNL_EXPR_BITWISE_SREG, RuleBuilder.reg1)
            $0.u32(NFTNL_EXPR_BITWISE_DREG, RuleBuilder.reg1)
            $0.u32(NFTNL_EXPR_BITWISE_OP, 0) // NFT_BITWISE_MASK_XOR, sent explicitly as nft does
            $0.u32(NFTNL_EXPR_BITWISE_LEN, UInt32(mask.count))
            $0.data(NFTNL_EXPR_BITWISE_MASK, mask)
            $0.data(NFTNL_EXPR_BITWISE_XOR, xor)
        }
    }
    mutating func ctLoad(_ key: UInt32) {
        append("ct") { $0.u32(NFTNL_EXPR_CT_KEY, key); $0.u32(NFTNL_EXPR_CT_DREG, RuleBuilder.reg1) }
    }
    mutating func ctSet(_ key: UInt32) {
        append("ct") { $0.u32(NFTNL_EXPR_CT_KEY, key); $0.u32(NFTNL_EXPR_CT_SREG, RuleBuilder.reg1) }
    }
    mutating func lookup(_ setName: String, dreg: UInt32?, negated: Bool) {
        let id = linearizer.sets[setName]?.id
        append("lookup") {
            $0.u32(NFTNL_EXPR_LOOKUP_SREG, RuleBuilder.reg1)
            $0.string(NFTNL_EXPR_LOOKUP_SET, setName)
            if let id { $0.u32(NFTNL_EXPR_LOOKUP_SET_ID, id) }
            if let dreg { $0.u32(NFTNL_EXPR_LOOKUP_DREG, dreg) }
            if negated { $0.u32(NFTNL_EXPR_LOOKUP_FLAGS, raw(NFT_LOOKUP_F_INV)) }
        }
    }

    /// `ether type == X`, merged into a directly preceding `ether saddr == Y` as nft does
    /// (one 8-byte load of source address and type).
    mutating func etherTypeDependency(_ etherType: [UInt8]) {
        let ll = raw(NFT_PAYLOAD_LL_HEADER)
        if pending.count >= 2, case .payload(ll, 6, 6) = pending[pending.count - 2].tag,
           case .cmpEqual(let address) = pending[pending.count - 1].tag {
            pending.removeLast(2)
            payload(ll, offset: 6, length: 8)
            cmp(false, address + etherType)
        } else {
            payload(ll, offset: 12, length: 2)
            cmp(false, etherType)
        }
    }

    /// Loads `field` into reg 1, preceded by its protocol dependency unless already present.
    /// `bytes`: load only a prefix of the field (nft does this for byte-aligned prefixes).
    mutating func load(_ field: Field, bytes: Int? = nil, dreg: UInt32 = reg1) {
        switch field {
        case .ipv4Source, .ipv4Destination, .ipv6Source, .ipv6Destination:
            let proto: UInt8 = field.dataType == .ipv4Address ? UInt8(NFPROTO_IPV4) : UInt8(NFPROTO_IPV6)
            if nfproto != proto && linkIsEther {
                // After an Ethernet match nft depends on `ether type` instead of `meta nfproto`.
                let etherType: [UInt8] = proto == UInt8(NFPROTO_IPV4) ? [0x08, 0x00] : [0x86, 0xDD]
                etherTypeDependency(etherType)
                nfproto = proto
            } else if linearizer.family == UInt8(NFPROTO_INET), nfproto != proto {
                meta(raw(NFT_META_NFPROTO))
                cmp(false, [proto])
                nfproto = proto
            }
            let offset: UInt32 = switch field {
            case .ipv4Source: 12
            case .ipv4Destination: 16
            case .ipv6Source: 8
            default: 24
            }
            payload(raw(NFT_PAYLOAD_NETWORK_HEADER), offset: offset,
                    length: UInt32(bytes ?? field.dataType.byteLength), dreg: dreg)
        case .etherSource:
            if !etherDependency {
                meta(raw(NFT_META_IFTYPE))
                cmp(false, hostBytes(UInt16(1))) // ARPHRD_ETHER
                etherDependency = true
            }
            payload(raw(NFT_PAYLOAD_LL_HEADER), offset: 6, length: 6)
            linkIsEther = true
        case .inputInterfaceName: meta(raw(NFT_META_IIFNAME))
        case .outputInterfaceName: meta(raw(NFT_META_OIFNAME))
        case .socketUID: meta(raw(NFT_META_SKUID))
        case .conntrackMark: ctLoad(raw(NFT_CT_MARK))
        case .conntrackStatus: ctLoad(raw(NFT_CT_STATUS))
        case .udpDestinationPort, .tcpDestinationPort:
            // nft's dependency for `udp dport`/`tcp dport` in the inet family: `meta l4proto`.
            let proto: UInt8 = field == .udpDestinationPort ? UInt8(IPPROTO_UDP) : UInt8(IPPROTO_TCP)
            if l4proto != proto {
                meta(raw(NFT_META_L4PROTO))
                cmp(false, [proto])
                l4proto = proto
            }
            payload(raw(NFT_PAYLOAD_TRANSPORT_HEADER), offset: 2, length: 2, dreg: dreg)
        }
    }

    mutating func match(_ m: Match) throws(NetlinkError) {
        switch m {
        case .conntrackState(let states):
            ctLoad(raw(NFT_CT_STATE))
            bitwise(mask: hostBytes(states.reduce(UInt32(0)) { $0 | $1.bit }), xor: hostBytes(UInt32(0)))
            cmp(true, hostBytes(UInt32(0)))
        case .family(let f):
            let proto = f == .ipv4 ? UInt8(NFPROTO_IPV4) : UInt8(NFPROTO_IPV6)
            meta(raw(NFT_META_NFPROTO))
            cmp(false, [proto])
            nfproto = proto
        case .equals(let field, let value, let negated):
            if case .network(let net) = value, !net.isHost, net.isIPv4 == (field.dataType == .ipv4Address),
               field.dataType == .ipv4Address || field.dataType == .ipv6Address {
                if net.prefixLength % 8 == 0 {
                    // nft loads only the prefix bytes and compares them.
                    let n = net.prefixLength / 8
                    load(field, bytes: n)
                    cmp(negated, Array(net.bytes.prefix(n)))
                } else {
                    load(field)
                    let mask = IPNetwork.masked([UInt8](repeating: 0xFF, count: net.bytes.count), net.prefixLength)
                    bitwise(mask: mask, xor: [UInt8](repeating: 0, count: mask.count))
                    cmp(negated, net.bytes)
                }
                return
            }
            guard let data = value.bytes(as: field.dataType) else {
                throw fail("\(field.rawValue) cannot be compared with \(value.text)")
            }
            load(field)
            cmp(negated, data)
        case .inSet(let field, let set, let negated):
            try checkSet(set, key: field.dataType, data: nil)
            load(field)
            lookup(set, dreg: nil, negated: negated)
        case .masked(let field, let mask, let value, let negated):
            guard field.dataType.byteLength == 4, field.dataType.isHostByteOrder else {
                throw fail("masked match needs a 32-bit host-order field, not \(field.rawValue)")
            }
            load(field)
            bitwise(mask: hostBytes(mask), xor: hostBytes(UInt32(0)))
            cmp(negated, hostBytes(value))
        }
    }

    mutating func statement(_ s: Statement) throws(NetlinkError) {
        switch s {
        case .counter:
            append("counter") { _ in }
        case .log(let prefix, let group):
            guard prefix.utf8.count <= 127 else { throw fail("log prefix longer than 127 bytes") }
            append("log") {
                $0.string(NFTNL_EXPR_LOG_PREFIX, prefix)
                $0.u16(NFTNL_EXPR_LOG_GROUP, group)
            }
        case .setConntrackMark(let source):
            switch source {
            case .constant(let v):
                append("immediate") {
                    $0.u32(NFTNL_EXPR_IMM_DREG, RuleBuilder.reg1)
                    $0.data(NFTNL_EXPR_IMM_DATA, hostBytes(v))
                }
            case .orBits(let bits):
                ctLoad(raw(NFT_CT_MARK))
                bitwise(mask: hostBytes(~bits), xor: hostBytes(bits))
            case .lookup(let field, let map):
                try checkSet(map, key: field.dataType, data: .mark)
                load(field)
                lookup(map, dreg: RuleBuilder.reg1, negated: false)
            }
            ctSet(raw(NFT_CT_MARK))
        case .meterLimit(let set, let key, let perSecond, let burst):
            // Key parts go to consecutive registers, as nft lays out a concatenation.
            var offset = 0
            for field in key {
                load(field, dreg: RuleBuilder.register(atByteOffset: offset))
                offset += registerBytes(field.dataType.byteLength)
            }
            let id = linearizer.sets[set]?.id
            append("dynset") {
                $0.u32(NFTNL_EXPR_DYNSET_SREG_KEY, RuleBuilder.reg1)
                $0.u32(NFTNL_EXPR_DYNSET_OP, raw(NFT_DYNSET_OP_UPDATE))
                $0.string(NFTNL_EXPR_DYNSET_SET_NAME, set)
                if let id { $0.u32(NFTNL_EXPR_DYNSET_SET_ID, id) }
                let limit = nftnl_expr_alloc("limit")!
                let l = Expression(ptr: limit)
                l.u64(NFTNL_EXPR_LIMIT_RATE, UInt64(perSecond))
                l.u64(NFTNL_EXPR_LIMIT_UNIT, 1) // per second
                l.u32(NFTNL_EXPR_LIMIT_BURST, burst)
                l.u32(NFTNL_EXPR_LIMIT_TYPE, raw(NFT_LIMIT_PKTS))
                l.u32(NFTNL_EXPR_LIMIT_FLAGS, 0)
                $0.adopt(NFTNL_EXPR_DYNSET_EXPR, limit)
            }
        }
    }

    /// The register a concatenation part at `offset` bytes goes to: a 128-bit register when
    /// 16-byte aligned, else the 32-bit one (NFT_REG32_00 + offset / 4), as nft numbers them.
    static func register(atByteOffset offset: Int) -> UInt32 {
        offset % 16 == 0 ? reg1 + UInt32(offset / 16) : UInt32(NFT_REG32_00.rawValue) + UInt32(offset / 4)
    }

    mutating func action(_ a: RuleAction) throws(NetlinkError) {
        switch a {
        case .verdict(let v):
            append("immediate") {
                $0.u32(NFTNL_EXPR_IMM_DREG, RuleBuilder.regVerdict)
                $0.s32(NFTNL_EXPR_IMM_VERDICT, v.code)
                if let chain = v.chain { $0.string(NFTNL_EXPR_IMM_CHAIN, chain) }
            }
        case .verdictMap(let field, let map):
            try checkSet(map, key: field.dataType, data: .verdict)
            load(field)
            lookup(map, dreg: RuleBuilder.regVerdict, negated: false)
        case .redirect(let port):
            append("immediate") {
                $0.u32(NFTNL_EXPR_IMM_DREG, RuleBuilder.reg1)
                $0.data(NFTNL_EXPR_IMM_DATA, [UInt8(port >> 8), UInt8(port & 0xFF)])
            }
            append("redir") {
                $0.u32(NFTNL_EXPR_REDIR_REG_PROTO_MIN, RuleBuilder.reg1)
                $0.u32(NFTNL_EXPR_REDIR_REG_PROTO_MAX, RuleBuilder.reg1)
                $0.u32(NFTNL_EXPR_REDIR_FLAGS, UInt32(NF_NAT_RANGE_PROTO_SPECIFIED))
            }
        }
    }

    /// When the set is part of this batch, its key (and data) type must fit the use.
    /// Unknown sets are left to the kernel, which rejects them with the message's place.
    func checkSet(_ name: String, key: DataType, data: DataType?) throws(NetlinkError) {
        guard let s = linearizer.sets[name]?.set else { return }
        guard s.keyType == key else {
            throw fail("@\(name) has keys of type \(s.keyType.rawValue), the field is \(key.rawValue)")
        }
        if let data, s.dataType != data {
            throw fail("@\(name) is not a map to \(data.rawValue)")
        }
    }
}

// MARK: IR helpers

extension TableFamily {
    var nfproto: UInt8 {
        switch self { case .inet: return UInt8(NFPROTO_INET) }
    }
    init(nfproto: UInt8) { self = .inet }
}

extension Hook {
    var number: UInt32 {
        switch self {
        case .prerouting: return raw(NF_INET_PRE_ROUTING)
        case .input: return raw(NF_INET_LOCAL_IN)
        case .forward: return raw(NF_INET_FORWARD)
        case .output: return raw(NF_INET_LOCAL_OUT)
        case .postrouting: return raw(NF_INET_POST_ROUTING)
        }
    }
}

extension Verdict {
    var code: Int32 {
        switch self {
        case .accept: return Int32(NF_ACCEPT)
        case .drop: return Int32(NF_DROP)
        case .return: return NFT_RETURN.rawValue
        case .jump: return NFT_JUMP.rawValue
        case .goto: return NFT_GOTO.rawValue
        }
    }
    var chain: String? {
        switch self {
        case .jump(let c), .goto(let c): return c
        default: return nil
        }
    }
}

extension DataType {
    /// nft's byte order of the type (BYTEORDER_HOST_ENDIAN 1, BYTEORDER_BIG_ENDIAN 2; verdicts 0).
    var nftByteOrder: UInt32 {
        switch self {
        case .verdict: return 0
        case .uid, .mark, .interfaceName, .conntrackStatus: return 1
        case .ipv4Address, .ipv6Address, .etherAddress, .inetService: return 2
        }
    }
}

extension Value {
    /// The value as it sits in a register or set key of `type`; nil when the types do not fit.
    func bytes(as type: DataType) -> [UInt8]? {
        switch (self, type) {
        case (.network(let n), .ipv4Address) where n.isIPv4 && n.isHost: return n.bytes
        case (.network(let n), .ipv6Address) where !n.isIPv4 && n.isHost: return n.bytes
        case (.ether(let b), .etherAddress) where b.count == 6: return b
        case (.interfaceName(let name), .interfaceName):
            let u = Array(name.utf8)
            guard !u.isEmpty, u.count < 16, !u.contains(0) else { return nil }
            return u + [UInt8](repeating: 0, count: 16 - u.count)
        case (.uid(let u), .uid): return hostBytes(u)
        case (.mark(let m), .mark): return hostBytes(m)
        case (.port(let p), .inetService): return [UInt8(p >> 8), UInt8(p & 0xFF)]
        default: return nil
        }
    }

    /// First and last key of the value as an interval (network order).
    func range(as type: DataType) -> (first: [UInt8], last: [UInt8])? {
        switch (self, type) {
        case (.network(let n), .ipv4Address) where n.isIPv4: return (n.first, n.last)
        case (.network(let n), .ipv6Address) where !n.isIPv4: return (n.first, n.last)
        default:
            // Other key types only as single values; host-order intervals are not used by dronewall.
            guard !type.isHostByteOrder, let b = bytes(as: type) else { return nil }
            return (b, b)
        }
    }

    /// nft-style text, for error messages.
    var text: String {
        switch self {
        case .network(let n): return n.description
        case .ether(let b): return b.count == 6 ? MACAddress(bytes: b).description : "\(b)"
        case .interfaceName(let s): return "\"\(s)\""
        case .uid(let u): return String(u)
        case .mark(let m): return "0x" + String(m, radix: 16)
        case .port(let p): return String(p)
        case .verdict(let v):
            switch v {
            case .accept: return "accept"
            case .drop: return "drop"
            case .return: return "return"
            case .jump(let c): return "jump \(c)"
            case .goto(let c): return "goto \(c)"
            }
        }
    }
}

/// Big-endian increment; nil on overflow (the range reaches the top of the address space).
func increment(_ bytes: [UInt8]) -> [UInt8]? {
    var out = bytes
    for i in stride(from: out.count - 1, through: 0, by: -1) {
        if out[i] == 0xFF { out[i] = 0 } else { out[i] += 1; return out }
    }
    return nil
}

/// One nftnl userdata TLV holding a u32 in host order.
func udataU32(_ type: UInt8, _ value: UInt32) -> [UInt8] { [type, 4] + hostBytes(value) }

/// Bytes a value of `length` takes in registers (whole 32-bit registers).
func registerBytes(_ length: Int) -> Int { (length + 3) / 4 * 4 }
