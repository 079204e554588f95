import NftModel

/// One chain's rules as libnftnl debug text, in rule order (see `rulePayloads`).
package struct ChainPayload: Sendable, Hashable {
    /// The chain's name.
    package var chain: String
    /// Per rule, `RuleObject.debugText`: what `nft --debug=netlink` prints for it.
    package var rules: [String]
}

/// Linearizes every rule of `ruleset` as `apply` would and returns libnftnl's debug text of
/// each, per chain: the netlink payload that payload goldens pin. Needs no socket and no root.
package func rulePayloads(_ ruleset: Ruleset) throws(NetlinkError) -> [ChainPayload] {
    let lin = Linearizer(table: ruleset.table)
    var out: [ChainPayload] = []
    for chain in ruleset.table.chains {
        var rules: [String] = []
        for (i, rule) in chain.rules.enumerated() {
            let subject = lin.ruleSubject(rule, chain: chain, index: i)
            rules.append(try lin.ruleObject(rule, chain: chain, subject: subject).debugText)
        }
        out.append(ChainPayload(chain: chain.name, rules: rules))
    }
    return out
}
