import DronewallConfig
import NetAddress

/// What a drone's policy does to each catalogue entry: the answer to "which entries does this
/// config block for this drone?" (`dronewall catalogue drone NAME`). Pure; it follows the same
/// masks and host-list precedence as the compiled drone chain.
public struct EndpointVerdict: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable {
        case blocked, wouldBlock = "would-block", allowed
    }
    public var endpoint: Endpoint
    public var outcome: Outcome
    /// Why, in words: the categories that decide it, or the host list that overrides them.
    public var reason: String
}

extension PolicyCompiler {
    /// Verdicts for every catalogue entry, for one drone; nil when the drone has no policy.
    public static func verdicts(for drone: DroneConfig, catalogue: Catalogue) -> [EndpointVerdict]? {
        guard let policy = drone.policy?.value else { return nil }
        let allow = drone.allow.reduce(UInt32(0)) { $0 | $1.value.bit }
        let block = drone.block.reduce(UInt32(0)) { $0 | $1.value.bit }
        let blocked = blockedMask(policy, allow: allow, block: block)
        let wouldBlock = wouldBlockMask(policy, allow: allow, block: block)
        let names = { (mask: UInt32) in Category.from(mask: mask).map(\.rawValue).joined(separator: " ") }
        return catalogue.endpoints.map { e in
            // block-host beats everything, allow-host beats categories (as in the drone chain).
            if let h = covering(e.pattern, drone.blockHosts) {
                return EndpointVerdict(endpoint: e, outcome: .blocked, reason: "block-host \(h)")
            }
            // Names in allow-host are not enforced until the station resolves names (they are a
            // warning in `check`), so only networks override categories here.
            if let h = covering(e.pattern, drone.allowHosts.filter { if case .network = $0.value { true } else { false } }) {
                return EndpointVerdict(endpoint: e, outcome: .allowed, reason: "allow-host \(h)")
            }
            if policy == .isolate {
                return EndpointVerdict(endpoint: e, outcome: .blocked, reason: "policy isolate")
            }
            if e.mask & blocked != 0 {
                return EndpointVerdict(endpoint: e, outcome: .blocked, reason: names(e.mask & blocked))
            }
            if e.mask & wouldBlock != 0 {
                return EndpointVerdict(endpoint: e, outcome: .wouldBlock, reason: names(e.mask & wouldBlock))
            }
            let why = policy == .allowlist ? "allow = \(names(e.mask))" : "\(names(e.mask)) not blocked"
            return EndpointVerdict(endpoint: e, outcome: .allowed, reason: why)
        }
    }

    /// The first host-list entry that covers the whole catalogue entry (a domain and its
    /// subdomains, or a network inside it).
    static func covering(_ pattern: HostPattern, _ hosts: [Located<HostPattern>]) -> HostPattern? {
        hosts.first { h in
            switch (h.value, pattern) {
            case let (.domain(list), .domain(entry)): return entry == list || entry.hasSuffix("." + list)
            case let (.network(list), .network(entry)): return list.contains(entry)
            default: return false
            }
        }?.value
    }
}
