import CNetfilter
import NftModel

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
        NetlinkError(kind: .invalidRuleset, errno: EINVAL, object: subject.object, origin: subject.origin,
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
        case .reversePathMissing:
            // As nft 1.0 encodes it: an existence lookup of the output interface, compared with 0.
            let flags = UInt32(NFTA_FIB_F_SADDR.rawValue | NFTA_FIB_F_IIF.rawValue | NFTA_FIB_F_PRESENT.rawValue)
            append("fib") {
                $0.u32(NFTNL_EXPR_FIB_DREG, RuleBuilder.reg1)
                $0.u32(NFTNL_EXPR_FIB_RESULT, UInt32(NFT_FIB_RESULT_OIF.rawValue))
                $0.u32(NFTNL_EXPR_FIB_FLAGS, flags)
            }
            cmp(false, hostBytes(UInt32(0)))
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
                throw fail("\(field.rawValue) cannot be compared with \(NftTextRenderer.render(value: value))")
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
        case .conntrackLabel(let bit, let negated):
            // As nft encodes a flag test: mask the bit, then "not zero" (has) or "zero" (lacks).
            let mask = try labelBytes(bit)
            ctLoad(raw(NFT_CT_LABELS))
            bitwise(mask: mask, xor: [UInt8](repeating: 0, count: mask.count))
            cmp(!negated, [UInt8](repeating: 0, count: mask.count))
        }
    }

    /// The 128-bit label register with one bit set: bit N is bit N % 8 of byte N / 8, the
    /// layout of the kernel's label bitmap (nf_conn_labels).
    func labelBytes(_ bit: UInt8) throws(NetlinkError) -> [UInt8] {
        guard bit < 128 else { throw fail("conntrack label bit \(bit) is beyond 127") }
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes[Int(bit / 8)] = 1 << (bit % 8)
        return bytes
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
        case .setConntrackLabel(let bit):
            // The kernel ORs the register into the labels (nf_connlabels_replace with the
            // register as both bits and mask), so other label bits stay as they are.
            let bits = try labelBytes(bit)
            append("immediate") {
                $0.u32(NFTNL_EXPR_IMM_DREG, RuleBuilder.reg1)
                $0.data(NFTNL_EXPR_IMM_DATA, bits)
            }
            ctSet(raw(NFT_CT_LABELS))
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
