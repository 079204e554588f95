import DronewallConfig
import DronewallPolicy
import Netfilter
import NftModel
import KernelLayout

/// Addresses the station resolver learned for a name, read from the kernel's learned sets
/// (each element's comment is the name it was learned for).
struct LearnedAddress {
    var address: IPNetwork
    var set: String
    /// Category bits (global learned maps); nil for a drone's host set.
    var mask: UInt32?
    var name: String
    var expiresMilliseconds: UInt64

    var classes: String {
        guard let mask else { return set.replacingSetPrefix() }
        var words = Category.from(mask: mask).map(\.rawValue)
        if mask & KernelLayout.resolverBit != 0 { words.append("public resolver") }
        return words.joined(separator: " ")
    }

    /// Learned addresses for `name` and names below it; nil when the kernel cannot be read
    /// here (not root), [] when there are none.
    static func read(for name: String) -> [LearnedAddress]? {
        guard let client = try? NftablesClient(transport: KernelTransport(), table: KernelLayout.tableName),
              let status = try? client.status() else { return nil }
        var out: [LearnedAddress] = []
        let sets = status.sets.map(\.name).filter {
            $0 == KernelLayout.learnedV4 || $0 == KernelLayout.learnedV6 || HostSetName(parsing: $0)?.learned == true
        }
        for set in sets {
            guard let elements = try? client.elements(set: set) else { continue }
            for e in elements {
                guard let c = e.comment, HostPattern.domain(name).covers(name: c), e.key.count == 4 || e.key.count == 16 else { continue }
                let mask = set == KernelLayout.learnedV4 || set == KernelLayout.learnedV6 ? e.data.flatMap { d in
                    d.count == 4 ? d.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } : nil
                } : nil
                out.append(LearnedAddress(address: IPNetwork(bytes: e.key, prefixLength: e.key.count * 8), set: set,
                                          mask: mask, name: c, expiresMilliseconds: e.expiresMilliseconds ?? 0))
            }
        }
        return out.sorted { ($0.name, $0.address.description) < ($1.name, $1.address.description) }
    }
}

extension String {
    /// `drone_alpha_allow_dns_v4` -> `allow-host of alpha`.
    func replacingSetPrefix() -> String {
        guard let name = HostSetName(parsing: self) else { return self }
        return name.kind == .resolved ? "answered to \(name.drone) (dns-strict)" : "\(name.kind.rawValue)-host of \(name.drone)"
    }
}
