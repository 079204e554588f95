import DronewallConfig
import KernelLayout

/// The ruleset generation: a hash of what the rules are built from (validated policies, the
/// station settings the compiler reads, the catalogue), computed before the rules, so they are
/// built once with their generation in place. Source places are left out: moving a drone's
/// section to another file changes nothing the kernel enforces.
enum PolicyFingerprint {
    /// Bump when the compiler emits different rules for the same policy, so that established
    /// flows are re-examined after an upgrade too.
    static let rulesVersion = 5  // 2: NAT64 images, mapped-address drop; 3: reverse-path check;
                                 // 4: the resolver guard requires our redirect's ct label;
                                 // 5: the policy is named in chain applied_policy, not the table

    /// A 64-bit hash of everything the rules are built from.
    static func fingerprint(station: StationConfig, drones: [DronePolicy], catalogue: Catalogue) -> UInt64 {
        var h = FNV1a64()
        h.add("rules \(rulesVersion)")
        h.add("station \(station.droneInterfaces.map(\.value)) uplinks \(station.uplinkInterfaces.map(\.value)) log \(station.logGroup) "
              + "resolver \(station.dnsResolver) port \(station.dnsPortBase) nat64 \(station.nat64Prefixes.map(\.value))")
        for d in drones {
            h.add("policy \(d.subject.word) \(d.kind.rawValue) blocked \(d.blocked.rawValue) would \(d.wouldBlock.rawValue) "
                  + "port \(d.resolverPort.map(String.init) ?? "-")")
            for i in d.identities { h.add("identity \(i.value)") }
            for l in d.links { h.add("link \(l.value)") }
            if d.dnsStrict { h.add("dns-strict") }
            for a in d.allowHosts { h.add("allow-host \(a.value)") }
            for b in d.blockHosts { h.add("block-host \(b.value)") }
        }
        for e in catalogue.endpoints { h.add("endpoint \(e.pattern) \(e.mask)") }
        for r in catalogue.resolvers {
            h.add("resolver \(r.id) \(r.names.map(\.value)) \(r.addresses.map(\.value.description))")
        }
        return h.value
    }

    /// The generation a fingerprint starts from: upper 16 bits of the conntrack mark, never 0
    /// (see `KernelLayout.generationMask`).
    static func generation(of fingerprint: UInt64) -> UInt32 { UInt32(fingerprint % 0xffff + 1) << 16 }

    /// The generation after `g`, skipping 0.
    static func next(after g: UInt32) -> UInt32 { ((g >> 16) % 0xffff + 1) << 16 }
}
