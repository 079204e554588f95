/// What the table names as applied, kept by the kernel (as the comment of chain
/// `KernelLayout.policyChain`) so `status` can say what is enforced and the next apply can tell a
/// changed policy from the same one:
/// `dronewall generation 0x1a2b; policy 0123456789abcdef; catalogue 2026-11-25 + 1 local file`.
public struct PolicyComment: Sendable, Hashable {
    /// The generation in the conntrack marks (upper 16 bits; see `KernelLayout.generationMask`).
    public var generation: UInt32
    /// The full fingerprint of the policy the generation was derived from; nil in comments
    /// written before it was recorded.
    public var policy: UInt64?
    public var catalogue: String?

    public init(generation: UInt32, policy: UInt64?, catalogue: String?) {
        (self.generation, self.policy, self.catalogue) = (generation, policy, catalogue)
    }

    public var text: String {
        var parts = ["dronewall generation 0x\(String(generation >> 16, radix: 16))"]
        if let policy { parts.append("policy \(String(policy, radix: 16))") }
        if let catalogue { parts.append("catalogue \(catalogue)") }
        return parts.joined(separator: "; ")
    }

    /// Nil for a comment dronewall did not write.
    public init?(parsing comment: String) {
        let parts = comment.split(separator: ";").map { $0.drop { $0 == " " } }
        guard let first = parts.first, first.hasPrefix("dronewall generation 0x"),
              let g = UInt32(first.dropFirst("dronewall generation 0x".count), radix: 16), g <= 0xffff else { return nil }
        generation = g << 16
        policy = parts.first { $0.hasPrefix("policy ") }.flatMap { UInt64($0.dropFirst("policy ".count), radix: 16) }
        catalogue = parts.first { $0.hasPrefix("catalogue ") }.map { String($0.dropFirst("catalogue ".count)) }
    }
}

extension PolicyComment {
    /// What a table in the kernel names as applied: the comment of its policy chain
    /// (`KernelLayout.policyChain`) or, in a table applied by a version that kept it there, the
    /// table's own comment. Nil when neither is dronewall's.
    public init?(chainComment: String?, tableComment: String?) {
        guard let c = chainComment.flatMap(PolicyComment.init(parsing:)) ?? tableComment.flatMap(PolicyComment.init(parsing:))
        else { return nil }
        self = c
    }
}
