/// Renders the IR as nft text that `nft -f` (and `nft -c -f`) accepts.
///
/// Layout follows `nft list` so an admin can compare the two by eye; the
/// differential lab test compares the kernel's view of both paths instead.
public enum NftTextRenderer {
    /// The whole ruleset: one `table` block.
    public static func render(_ ruleset: Ruleset) -> String {
        render(ruleset.table)
    }

    public static func render(_ table: Table) -> String {
        var out = "table \(table.family.rawValue) \(table.name) {\n"
        if let c = table.comment { out += "\tcomment \(quote(c))\n" }
        var blocks: [String] = table.sets.map(render(set:))
        blocks += table.chains.map(render(chain:))
        out += blocks.joined(separator: "\n")
        out += "}\n"
        return out
    }

    static func render(set: NamedSet) -> String {
        var out = "\t\(set.isMap ? "map" : "set") \(set.name) {\n"
        let key = set.keyTypes.map(\.rawValue).joined(separator: " . ")
        if let data = set.dataType {
            out += "\t\ttype \(key) : \(data.rawValue)\n"
        } else {
            out += "\t\ttype \(key)\n"
        }
        if let size = set.size { out += "\t\tsize \(size)\n" }
        var flags: [String] = []
        if set.flags.contains(.constant) { flags.append("constant") }
        if set.flags.contains(.dynamic) { flags.append("dynamic") }
        if set.flags.contains(.interval) { flags.append("interval") }
        if set.flags.contains(.timeout) { flags.append("timeout") }
        if !flags.isEmpty { out += "\t\tflags \(flags.joined(separator: ","))\n" }
        if let t = set.timeoutMilliseconds { out += "\t\ttimeout \(renderDuration(t))\n" }
        if !set.elements.isEmpty {
            let items = set.elements.map(render(element:))
            out += "\t\telements = { " + items.joined(separator: ",\n\t\t\t     ") + " }\n"
        }
        out += "\t}\n"
        return out
    }

    static func render(element: SetElement) -> String {
        var s = render(value: element.key)
        if let ms = element.timeoutMilliseconds { s += " timeout \(renderDuration(ms))" }
        if let c = element.comment { s += " comment \(quote(c))" }
        if let data = element.data { s += " : " + render(value: data) }
        return s
    }

    static func render(chain: Chain) -> String {
        var out = "\tchain \(chain.name) {\n"
        if let c = chain.comment { out += "\t\tcomment \(quote(c))\n" }
        if let base = chain.base {
            out += "\t\ttype \(base.type.rawValue) hook \(base.hook.rawValue) priority \(renderPriority(base)); policy \(base.policy.rawValue);\n"
        }
        for rule in chain.rules { out += "\t\t" + render(rule: rule) + "\n" }
        out += "\t}\n"
        return out
    }

    /// One rule on one line, e.g. `ip daddr @x counter log prefix "p" group 5 drop`.
    public static func render(rule: Rule) -> String {
        var words: [String] = rule.matches.map(render(match:))
        words += rule.statements.map(render(statement:))
        if let action = rule.action { words.append(render(action: action)) }
        return words.joined(separator: " ")
    }

    static func render(match: Match) -> String {
        switch match {
        case let .family(f):
            return "meta nfproto \(f.rawValue)"
        case let .conntrackState(states):
            return "ct state " + states.map(\.rawValue).joined(separator: ",")
        case .reversePathMissing:
            return "fib saddr . iif oif missing"
        case let .equals(field, value, negated):
            return "\(field.rawValue) \(negated ? "!= " : "")\(render(value: value))"
        case let .inSet(field, set, negated):
            return "\(field.rawValue) \(negated ? "!= " : "")@\(set)"
        case let .masked(field, mask, value, negated):
            return "\(field.rawValue) & \(hex32(mask)) \(negated ? "!=" : "==") \(hex32(value))"
        case let .conntrackLabel(bit, negated):
            // nft's flag syntax: `!` tests that the bit is clear (`!=` would compare all 128 bits).
            return "ct label \(negated ? "! " : "")\(bit)"
        }
    }

    static func render(statement: Statement) -> String {
        switch statement {
        case .counter: return "counter"
        case let .log(prefix, group): return "log prefix \(quote(prefix)) group \(group)"
        case let .setConntrackMark(source):
            switch source {
            case let .constant(v): return "ct mark set \(hex32(v))"
            case let .orBits(v): return "ct mark set ct mark | \(hex32(v))"
            case let .lookup(field, map): return "ct mark set \(field.rawValue) map @\(map)"
            }
        case let .setConntrackLabel(bit): return "ct label set \(bit)"
        case let .meterLimit(set, key, perSecond, burst):
            let k = key.map(\.rawValue).joined(separator: " . ")
            return "update @\(set) { \(k) limit rate \(perSecond)/second burst \(burst) packets }"
        }
    }

    static func render(action: RuleAction) -> String {
        switch action {
        case let .verdict(v): return render(verdict: v)
        case let .verdictMap(field, map): return "\(field.rawValue) vmap @\(map)"
        case let .redirect(port): return "redirect to :\(port)"
        }
    }

    public static func render(verdict: Verdict) -> String {
        switch verdict {
        case .accept: return "accept"
        case .drop: return "drop"
        case .return: return "return"
        case let .jump(c): return "jump \(c)"
        case let .goto(c): return "goto \(c)"
        }
    }

    public static func render(value: Value) -> String {
        switch value {
        case let .network(n): return n.description
        case let .ether(bytes):
            // The IR does not enforce 6 bytes; error texts about a bad value must not trap.
            guard bytes.count == 6 else {
                return bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
            }
            return MACAddress(bytes: bytes).description
        case let .interfaceName(name): return quote(name)
        case let .uid(u): return String(u)
        case let .mark(m): return hex32(m)
        case let .verdict(v): return render(verdict: v)
        case let .port(p): return String(p)
        }
    }

    static func hex32(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - h.count) + h
    }

    static func quote(_ s: String) -> String {
        // Names and prefixes are validated to printable ASCII without quotes upstream;
        // escaping here keeps the text parseable even if that changes.
        "\"" + s.replacingQuotes() + "\""
    }

    /// nft's names: `filter` (0) for filter chains; `dstnat` (-100) for nat at prerouting,
    /// where nft prints it by name; plain numbers otherwise.
    static func renderPriority(_ base: BaseChainSpec) -> String {
        let p = base.priority
        if base.type == .nat {
            return base.hook == .prerouting && p == -100 ? "dstnat" : String(p)
        }
        return p == 0 ? "filter" : (p > 0 ? "filter + \(p)" : "filter - \(-p)")
    }

    /// nft's duration notation: `1h2m3s`, `500ms`.
    public static func renderDuration(_ ms: UInt64) -> String {
        if ms == 0 { return "0s" }
        var rest = ms
        var out = ""
        let units: [(UInt64, String)] = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms")]
        for (size, name) in units where rest >= size {
            out += "\(rest / size)\(name)"
            rest %= size
        }
        return out
    }
}

extension String {
    fileprivate func replacingQuotes() -> String {
        var out = ""
        for c in self { out += c == "\"" ? "'" : String(c) }
        return out
    }
}
