import DNSWire
import NetAddress

/// What an upstream answer says about a question: the chain of names it passes through
/// (question, CNAME targets, SVCB/HTTPS targets), the addresses at the end of it (A, AAAA and
/// SVCB address hints), and how long they may be cached. Pure.
public struct AnswerFacts: Sendable, Equatable {
    public var names: [String]
    public var addresses: [IPNetwork]
    /// The smallest TTL of the records that lead to the addresses (0 when there are none).
    public var ttlSeconds: UInt32

    public init(question: String, answer: DNSMessage) {
        var chain = [question]
        var ttl = UInt32.max
        // Follow CNAMEs in answer order; a well-formed answer lists them in sequence, but a
        // shuffled one still resolves as long as each link is present (bounded by the count).
        var changed = true
        var rounds = 0
        while changed && rounds < answer.answers.count + 1 {
            changed = false
            rounds += 1
            for r in answer.answers where chain.contains(r.name) {
                if case let .cname(target) = r.data, !chain.contains(target) {
                    chain.append(target)
                    ttl = min(ttl, r.ttl)
                    changed = true
                }
            }
        }
        var addresses: [IPNetwork] = []
        var targets: [String] = []
        for r in answer.answers where chain.contains(r.name) {
            switch r.data {
            case let .a(b) where b.count == 4:
                addresses.append(IPNetwork(bytes: b, prefixLength: 32)); ttl = min(ttl, r.ttl)
            case let .aaaa(b) where b.count == 16:
                addresses.append(IPNetwork(bytes: b, prefixLength: 128)); ttl = min(ttl, r.ttl)
            case let .svcb(binding):
                // Address hints may be used before the target is resolved: learn them too.
                for h in binding.ipv4Hints { addresses.append(IPNetwork(bytes: h, prefixLength: 32)) }
                for h in binding.ipv6Hints { addresses.append(IPNetwork(bytes: h, prefixLength: 128)) }
                if !binding.ipv4Hints.isEmpty || !binding.ipv6Hints.isEmpty { ttl = min(ttl, r.ttl) }
                // "." means the owner itself; anything else is a name the client resolves next.
                if !binding.target.isEmpty, !chain.contains(binding.target), !targets.contains(binding.target) {
                    targets.append(binding.target)
                }
            default:
                break
            }
        }
        var seen = Set<IPNetwork>()
        self.names = chain + targets
        self.addresses = addresses.filter { seen.insert($0).inserted }
        self.ttlSeconds = self.addresses.isEmpty ? 0 : ttl
    }
}
