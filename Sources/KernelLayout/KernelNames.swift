/// The name of a drone's host set, and its inverse: `drone_NAME_allow_v4`, `drone_NAME_block_dns_v6`.
public struct HostSetName: Sendable, Hashable {
    public var drone: String
    public var kind: KernelLayout.HostListKind
    public var ipv6: Bool
    /// Filled by the station resolver from names (`_dns`), rather than from addresses in the config.
    public var learned: Bool

    public init(drone: String, kind: KernelLayout.HostListKind, ipv6: Bool, learned: Bool) {
        (self.drone, self.kind, self.ipv6, self.learned) = (drone, kind, ipv6, learned)
    }

    public var text: String { "drone_\(drone)_\(kind.rawValue)\(learned ? "_dns" : "")_\(ipv6 ? "v6" : "v4")" }

    /// Parsed from the end, since drone names may hold `_`; nil for any other set name.
    public init?(parsing name: String) {
        guard name.hasPrefix("drone_") else { return nil }
        var parts = name.dropFirst(6).split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count >= 3, let family = parts.popLast(), family == "v4" || family == "v6" else { return nil }
        let learned = parts.last == "dns"
        if learned { parts.removeLast() }
        guard parts.count >= 2, let kindWord = parts.popLast(), let kind = KernelLayout.HostListKind(rawValue: String(kindWord)),
              !parts.joined().isEmpty else { return nil }
        self.init(drone: parts.joined(separator: "_"), kind: kind, ipv6: family == "v6", learned: learned)
    }
}
