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

extension DronePolicy {
    /// What this policy does to every catalogue entry.
    public func verdicts(_ catalogue: Catalogue) -> [EndpointVerdict] {
        let names = { (set: CategorySet) in set.description }
        let allowNetworks = allowHosts.filter { if case .network = $0.value { true } else { false } }
        return catalogue.endpoints.map { e in
            let serves = CategorySet(e.categories)
            // block-host beats everything, allow-host beats categories (as in the drone chain).
            if let h = DronePolicy.covering(e.pattern, in: blockHosts) {
                return EndpointVerdict(endpoint: e, outcome: .blocked, reason: "block-host \(h)")
            }
            // Names in allow-host are not enforced until the station resolves names (they are a
            // warning in `check`), so only networks override categories here.
            if let h = DronePolicy.covering(e.pattern, in: allowNetworks) {
                return EndpointVerdict(endpoint: e, outcome: .allowed, reason: "allow-host \(h)")
            }
            if kind == .isolate {
                return EndpointVerdict(endpoint: e, outcome: .blocked, reason: "policy isolate")
            }
            if !serves.isDisjoint(with: blocked) {
                return EndpointVerdict(endpoint: e, outcome: .blocked, reason: names(serves.intersection(blocked)))
            }
            if !serves.isDisjoint(with: wouldBlock) {
                return EndpointVerdict(endpoint: e, outcome: .wouldBlock, reason: names(serves.intersection(wouldBlock)))
            }
            let why = kind == .allowlist ? "allow = \(names(serves))" : "\(names(serves)) not blocked"
            return EndpointVerdict(endpoint: e, outcome: .allowed, reason: why)
        }
    }
}
