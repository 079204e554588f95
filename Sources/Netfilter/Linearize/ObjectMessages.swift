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
    /// Sets of the table, by name, with the batch-local id nft would give those the batch creates
    /// (nil for a set the kernel already holds: a batch refers to it by name only).
    var sets: [String: (set: NamedSet, id: UInt32?)] = [:]

    /// `live`: the sets of `table` the kernel already holds (a change to a table, not a new one).
    init(table: Table, live: Set<String> = []) {
        family = table.family.nfproto
        tableName = table.name
        for (i, s) in table.sets.enumerated() { sets[s.name] = (s, live.contains(s.name) ? nil : UInt32(i + 1)) }
    }

    init(family: TableFamily, tableName: String) {
        self.family = family.nfproto
        self.tableName = tableName
    }

    // MARK: tables

    /// `tableFlags`: NFTA_TABLE_FLAGS for a NEWTABLE; nil sends none, which leaves an existing
    /// table's flags alone (a table kept with `persist` refuses any other change to that flag).
    func tableMessage(_ type: UInt32, flags: Int32, comment: String? = nil, tableFlags: UInt32? = nil) -> NetlinkMessage {
        let t = TableObject(family: family, name: tableName)
        if type == raw(NFT_MSG_NEWTABLE), let tableFlags { nftnl_table_set_u32(t.ptr, attr(NFTNL_TABLE_FLAGS), tableFlags) }
        if let comment { t.setData(attr(NFTNL_TABLE_USERDATA), udataCommentTLV(comment)) }
        return NetlinkMessage(bytes: t.message(type, family: family, flags: flags),
                              subject: MessageSubject(.table(family: "\(TableFamily(nfproto: family))", name: tableName)))
    }

    // MARK: chains

    func chainMessage(_ chain: Chain) -> NetlinkMessage {
        let c = ChainObject()
        c.setString(attr(NFTNL_CHAIN_TABLE), tableName)
        c.setString(attr(NFTNL_CHAIN_NAME), chain.name)
        if let comment = chain.comment { c.setData(attr(NFTNL_CHAIN_USERDATA), udataCommentTLV(comment)) }
        if let base = chain.base {
            c.setString(attr(NFTNL_CHAIN_TYPE), base.type.rawValue)
            c.setU32(attr(NFTNL_CHAIN_HOOKNUM), base.hook.number)
            c.setS32(attr(NFTNL_CHAIN_PRIO), base.priority)
            c.setU32(attr(NFTNL_CHAIN_POLICY), base.policy == .accept ? UInt32(NF_ACCEPT) : UInt32(NF_DROP))
        }
        return NetlinkMessage(bytes: c.message(raw(NFT_MSG_NEWCHAIN), family: family, flags: NLM_F_CREATE),
                              subject: MessageSubject(.chain(chain.name), origin: chain.origin))
    }

    /// Removes every rule of a chain the kernel holds (nft's `flush chain`).
    func flushChainMessage(_ chain: String) -> NetlinkMessage {
        let r = RuleObject()
        r.setU32(attr(NFTNL_RULE_FAMILY), UInt32(family))
        r.setString(attr(NFTNL_RULE_TABLE), tableName)
        r.setString(attr(NFTNL_RULE_CHAIN), chain)
        return NetlinkMessage(bytes: r.message(raw(NFT_MSG_DELRULE), family: family, flags: 0),
                              subject: MessageSubject(.chain(chain)))
    }

    func deleteChainMessage(_ chain: String) -> NetlinkMessage {
        let c = ChainObject()
        c.setString(attr(NFTNL_CHAIN_TABLE), tableName)
        c.setString(attr(NFTNL_CHAIN_NAME), chain)
        return NetlinkMessage(bytes: c.message(raw(NFT_MSG_DELCHAIN), family: family, flags: 0),
                              subject: MessageSubject(.chain(chain)))
    }

    // MARK: sets

    func deleteSetMessage(_ set: String) -> NetlinkMessage {
        let s = SetObject()
        s.setString(attr(NFTNL_SET_TABLE), tableName)
        s.setString(attr(NFTNL_SET_NAME), set)
        return NetlinkMessage(bytes: s.message(raw(NFT_MSG_DELSET), family: family, flags: 0),
                              subject: MessageSubject(.set(set)))
    }

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
                              subject: MessageSubject(.set(set.name), origin: set.origin))
    }

    // MARK: rules

    func ruleMessage(_ rule: Rule, chain: Chain, index: Int) throws(NetlinkError) -> NetlinkMessage {
        let subject = ruleSubject(rule, chain: chain, index: index)
        let r = try ruleObject(rule, chain: chain, subject: subject)
        return NetlinkMessage(bytes: r.message(raw(NFT_MSG_NEWRULE), family: family,
                                               flags: NLM_F_CREATE | NLM_F_APPEND),
                              subject: subject)
    }

    func ruleSubject(_ rule: Rule, chain: Chain, index: Int) -> MessageSubject {
        MessageSubject(.rule(chain: chain.name, index: index + 1), origin: rule.origin ?? chain.origin)
    }

    /// The libnftnl rule with all its expressions; `subject` names it in errors.
    func ruleObject(_ rule: Rule, chain: Chain, subject: MessageSubject) throws(NetlinkError) -> RuleObject {
        let r = RuleObject()
        r.setU32(attr(NFTNL_RULE_FAMILY), UInt32(family))
        r.setString(attr(NFTNL_RULE_TABLE), tableName)
        r.setString(attr(NFTNL_RULE_CHAIN), chain.name)
        var builder = RuleBuilder(rule: r, linearizer: self, subject: subject)
        for m in rule.matches { try builder.match(m) }
        for s in rule.statements { try builder.statement(s) }
        if let a = rule.action { try builder.action(a) }
        builder.finish()
        return r
    }
}
