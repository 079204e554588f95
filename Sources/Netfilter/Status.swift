import CNetfilter
import NftModel
#if canImport(Glibc)
import Glibc
#endif

/// What the kernel holds for one table, read back for `dronewall status`.
public struct TableStatus: Sendable, Hashable {
    public var family: TableFamily
    public var name: String
    /// The table's own comment (dronewall names what it applied in a chain's; see `chainComments`).
    public var comment: String?
    /// The kernel's handle of this table instance: a re-applied table gets a new one (and new counters).
    public var handle: UInt64? = nil
    /// Chains in the kernel's order, each with its rules.
    public var chains: [ChainStatus]
    /// Sets and maps with their element counts.
    public var sets: [SetStatus]

    public init(family: TableFamily, name: String, comment: String? = nil, handle: UInt64? = nil,
                chains: [ChainStatus], sets: [SetStatus]) {
        (self.family, self.name, self.comment, self.handle, self.chains, self.sets) = (family, name, comment, handle, chains, sets)
    }
}

public struct ChainStatus: Sendable, Hashable {
    public var name: String
    /// The hook of a base chain, nil for regular chains.
    public var hook: Hook?
    public var rules: [RuleStatus]
    public var comment: String?

    public init(name: String, hook: Hook? = nil, rules: [RuleStatus], comment: String? = nil) {
        (self.name, self.hook, self.rules, self.comment) = (name, hook, rules, comment)
    }
}

extension TableStatus {
    /// The comments of the chains that have one, by chain name.
    public var chainComments: [String: String] {
        Dictionary(chains.compactMap { c in c.comment.map { (c.name, $0) } }, uniquingKeysWith: { a, _ in a })
    }
}

public struct RuleStatus: Sendable, Hashable {
    /// The kernel's rule handle.
    public var handle: UInt64
    /// Counter values, when the rule has a `counter`.
    public var packets: UInt64?
    public var bytes: UInt64?
    /// The prefix of the rule's `log` statement, if any (dronewall encodes drone and category in it).
    public var logPrefix: String?

    public init(handle: UInt64, packets: UInt64? = nil, bytes: UInt64? = nil, logPrefix: String? = nil) {
        (self.handle, self.packets, self.bytes, self.logPrefix) = (handle, packets, bytes, logPrefix)
    }
}

public struct SetStatus: Sendable, Hashable {
    public var name: String
    /// Elements as the user sees them: interval sets count ranges, not their end markers.
    public var elementCount: Int
}

extension NftablesClient {
    /// The rules of the named chains, with their counters and log prefixes, read without the
    /// rest of the table (an incremental apply reads what the chains it flushes counted). A
    /// chain that does not exist reads as one without rules.
    public func ruleCounters(chains names: [String]) throws(NetlinkError) -> [ChainStatus] {
        var out: [ChainStatus] = []
        for name in names {
            do {
                out.append(ChainStatus(name: name, rules: try rules(inChain: name).map(\.rule)))
            } catch where error.isNotFound {
                out.append(ChainStatus(name: name, rules: []))
            }
        }
        return out
    }

    /// The table's rules (of one chain, when named: the kernel filters the dump), in order.
    private func rules(inChain chain: String?) throws(NetlinkError) -> [(chain: String, rule: RuleStatus)] {
        let rq = RuleObject()
        rq.setString(attr(NFTNL_RULE_TABLE), table)
        if let chain { rq.setString(attr(NFTNL_RULE_CHAIN), chain) }
        let replies = try request(raw(NFT_MSG_GETRULE), family: family, dump: true,
                                  operation: "status: list rules") { nftnl_rule_nlmsg_build_payload($0, rq.ptr) }
        var out: [(chain: String, rule: RuleStatus)] = []
        for reply in replies {
            let r = RuleObject()
            guard withHeader(reply, { nftnl_rule_nlmsg_parse($0, r.ptr) }) >= 0 else { continue }
            guard r.string(attr(NFTNL_RULE_TABLE)) == table, let name = r.string(attr(NFTNL_RULE_CHAIN)),
                  chain == nil || name == chain else { continue }
            var status = RuleStatus(handle: r.u64(attr(NFTNL_RULE_HANDLE)) ?? 0)
            r.forEachExpression { name, e in
                switch name {
                case "counter":
                    status.packets = e.getU64(NFTNL_EXPR_CTR_PACKETS) ?? 0
                    status.bytes = e.getU64(NFTNL_EXPR_CTR_BYTES) ?? 0
                case "log":
                    if status.logPrefix == nil { status.logPrefix = e.getString(NFTNL_EXPR_LOG_PREFIX) }
                default: break
                }
            }
            out.append((name, status))
        }
        return out
    }

    /// Reads back the client's table; nil when it does not exist. `countingElements: false`
    /// leaves every `SetStatus.elementCount` at 0 and skips reading the elements, which on a
    /// large catalogue is most of the work (the daemon's counter readings need none of them).
    public func status(countingElements: Bool = true) throws(NetlinkError) -> TableStatus? {
        var lastError: NetlinkError?
        // A dump interrupted by a concurrent change is retried a few times.
        for _ in 0..<3 {
            do {
                return try readStatus(table: table, family: family, countingElements: countingElements)
            } catch where error.errno == EINTR {
                lastError = error
            }
        }
        throw lastError!
    }

    private func request(_ type: UInt32, family: TableFamily, dump: Bool, operation: String,
                         _ payload: (UnsafeMutablePointer<nlmsghdr>) -> Void) throws(NetlinkError) -> [NetlinkMessage] {
        var m = NetlinkMessage(bytes: buildMessage(type, family: family.nfproto,
                                                   flags: dump ? NLM_F_DUMP : NLM_F_ACK, payload))
        m.sequence = takeSequence()
        do {
            return try transport.request(m)
        } catch {
            var e = error
            e.operation = operation
            throw e
        }
    }

    private func readStatus(table: String, family: TableFamily, countingElements: Bool) throws(NetlinkError) -> TableStatus? {
        let t = TableObject(family: family.nfproto, name: table)
        var comment: String?
        var handle: UInt64?
        do {
            let replies = try request(raw(NFT_MSG_GETTABLE), family: family, dump: false, operation: "status: get table") {
                nftnl_table_nlmsg_build_payload($0, t.ptr)
            }
            for reply in replies {
                let got = TableObject()
                if withHeader(reply, { nftnl_table_nlmsg_parse($0, got.ptr) }) >= 0, got.name == table {
                    comment = got.comment
                    handle = got.handle
                }
            }
        } catch where error.isNotFound {
            return nil
        }

        // Chains (the kernel filters dumps by family; we filter by table).
        let chainReplies = try request(raw(NFT_MSG_GETCHAIN), family: family, dump: true,
                                       operation: "status: list chains") { _ in }
        var chains: [ChainStatus] = []
        for reply in chainReplies {
            let c = ChainObject()
            guard withHeader(reply, { nftnl_chain_nlmsg_parse($0, c.ptr) }) >= 0 else { continue }
            guard c.string(attr(NFTNL_CHAIN_TABLE)) == table, let name = c.string(attr(NFTNL_CHAIN_NAME)) else { continue }
            let hook = c.u32(attr(NFTNL_CHAIN_HOOKNUM)).flatMap { n in
                [Hook.prerouting, .input, .forward, .output, .postrouting].first { $0.number == n }
            }
            chains.append(ChainStatus(name: name, hook: hook, rules: [], comment: c.comment))
        }

        // By name: a fleet's table has thousands of chains and tens of thousands of rules.
        let index = Dictionary(chains.indices.map { (chains[$0].name, $0) }, uniquingKeysWith: { a, _ in a })
        for (chain, rule) in try rules(inChain: nil) {
            if let ci = index[chain] { chains[ci].rules.append(rule) }
        }

        let sq = SetObject()
        sq.setString(attr(NFTNL_SET_TABLE), table)
        let setReplies = try request(raw(NFT_MSG_GETSET), family: family, dump: true,
                                     operation: "status: list sets") { nftnl_set_nlmsg_build_payload($0, sq.ptr) }
        var sets: [SetStatus] = []
        for reply in setReplies {
            let s = SetObject()
            guard withHeader(reply, { nftnl_set_nlmsg_parse($0, s.ptr) }) >= 0 else { continue }
            guard s.string(attr(NFTNL_SET_TABLE)) == table, let name = s.string(attr(NFTNL_SET_NAME)) else { continue }
            // Anonymous sets (nft's `{ ... }` literals) are not ours to report.
            if let flags = s.u32(attr(NFTNL_SET_FLAGS)), flags & UInt32(NFT_SET_ANONYMOUS.rawValue) != 0 { continue }
            guard countingElements else {
                sets.append(SetStatus(name: name, elementCount: 0))
                continue
            }
            let eq = SetObject()
            eq.setString(attr(NFTNL_SET_TABLE), table)
            eq.setString(attr(NFTNL_SET_NAME), name)
            let elemReplies = try request(raw(NFT_MSG_GETSETELEM), family: family, dump: true,
                                          operation: "status: list elements of set \(name)") {
                nftnl_set_elems_nlmsg_build_payload($0, eq.ptr)
            }
            let collected = SetObject()
            for er in elemReplies { _ = withHeader(er) { nftnl_set_elems_nlmsg_parse($0, collected.ptr) } }
            let endFlag = UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue)
            let count = collected.elementFlags().filter { $0 & endFlag == 0 }.count
            sets.append(SetStatus(name: name, elementCount: count))
        }
        return TableStatus(family: family, name: table, comment: comment, handle: handle, chains: chains, sets: sets)
    }
}
