import CNetfilter
import NftModel
#if canImport(Glibc)
import Glibc
#endif

/// Which table the kernel holds: its handle (a replaced table gets a new one), and its own
/// comment and that of the chain that names the policy.
public struct TableInstance: Sendable, Hashable {
    public var handle: UInt64
    public var tableComment: String?
    public var policyComment: String?

    public init(handle: UInt64, tableComment: String? = nil, policyComment: String?) {
        (self.handle, self.tableComment, self.policyComment) = (handle, tableComment, policyComment)
    }
}

extension NftablesClient {
    /// The table's handle and the comment of chain `policyChain`, read without its rules or
    /// elements; nil when there is no table.
    public func instance(policyChain: String) throws(NetlinkError) -> TableInstance? {
        let t = TableObject(family: family.nfproto, name: table)
        var handle: UInt64?
        var tableComment: String?
        do {
            var m = NetlinkMessage(bytes: buildMessage(raw(NFT_MSG_GETTABLE), family: family.nfproto, flags: NLM_F_ACK) {
                nftnl_table_nlmsg_build_payload($0, t.ptr)
            })
            m.sequence = takeSequence()
            for reply in try transport.request(m) {
                let got = TableObject()
                if withHeader(reply, { nftnl_table_nlmsg_parse($0, got.ptr) }) >= 0, got.name == table {
                    (handle, tableComment) = (got.handle, got.comment)
                }
            }
        } catch where error.isNotFound {
            return nil
        } catch {
            var e = error
            e.operation = "read the table"
            throw e
        }
        guard let handle else { return nil }
        let c = ChainObject()
        c.setString(attr(NFTNL_CHAIN_TABLE), table)
        c.setString(attr(NFTNL_CHAIN_NAME), policyChain)
        var comment: String?
        do {
            var m = NetlinkMessage(bytes: c.message(raw(NFT_MSG_GETCHAIN), family: family.nfproto, flags: NLM_F_ACK))
            m.sequence = takeSequence()
            for reply in try transport.request(m) {
                let got = ChainObject()
                if withHeader(reply, { nftnl_chain_nlmsg_parse($0, got.ptr) }) >= 0,
                   got.string(attr(NFTNL_CHAIN_NAME)) == policyChain {
                    comment = got.comment
                }
            }
        } catch where error.isNotFound {
            comment = nil
        } catch {
            var e = error
            e.operation = "read chain \(policyChain)"
            throw e
        }
        return TableInstance(handle: handle, tableComment: tableComment, policyComment: comment)
    }

    /// Sends `diff`, which turns the table `expected` names into `ruleset`, as one batch; nothing
    /// else of the table changes (learned elements, counters of untouched rules). Returns false,
    /// having sent nothing, when the kernel's table is not `expected` (replaced, deleted, or
    /// applied by someone else): the caller replaces it instead. The batch carries the ruleset
    /// generation read with that check, so no commit can come between the two.
    public func applyChanges(_ diff: RulesetDiff, to ruleset: Ruleset, expecting expected: TableInstance,
                             policyChain: String) throws(NetlinkError) -> Bool {
        try retryingConcurrentChanges(operation: "apply changes") { generation, _ throws(NetlinkError) in
            guard try instance(policyChain: policyChain) == expected else { return false }
            try send(try changeBatch(diff, to: ruleset, rulesetGeneration: generation), operation: "apply changes")
            return true
        }
    }

    /// The messages of `applyChanges`, batch begin and end included. The order lets each step
    /// find what it needs: rules go before the sets and chains they refer to, map elements that
    /// jump to a chain before the chain; new chains come before the map elements and rules that
    /// jump to them, new sets before the rules that look them up.
    public func changeBatch(_ diff: RulesetDiff, to ruleset: Ruleset,
                            rulesetGeneration generation: UInt32? = nil) throws(NetlinkError) -> [NetlinkMessage] {
        let added = Set(diff.addedSets.map(\.name))
        let lin = Linearizer(table: ruleset.table, live: Set(ruleset.table.sets.map(\.name)).subtracting(added))
        var body: [NetlinkMessage] = []
        for c in diff.flushedChains { body.append(lin.flushChainMessage(c)) }
        for d in diff.deletedElements {
            // Deleted by key, as nft does: the kernel finds the element without its value.
            body += try lin.elementMessages(d.set, d.elements.map { SetElement(key: $0.key) }, .deletingFromLiveSet)
        }
        for c in diff.deletedChains { body.append(lin.deleteChainMessage(c)) }
        for s in diff.deletedSets { body.append(lin.deleteSetMessage(s)) }
        for c in diff.addedChains { body.append(lin.chainMessage(c)) }
        for s in diff.addedSets {
            body.append(lin.setMessage(s))
            if !s.elements.isEmpty { body += try lin.elementMessages(s, s.elements, .creatingSet) }
        }
        for a in diff.addedElements { body += try lin.elementMessages(a.set, a.elements, .addingToLiveSet) }
        for c in diff.filledChains {
            for (i, r) in c.rules.enumerated() { body.append(try lin.ruleMessage(r, chain: c, index: i)) }
        }
        return batch(body, generation: generation)
    }
}
