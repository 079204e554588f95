import DronewallConfig
import KernelLayout
import NftModel

/// Everything one load of config and catalogue decided: the validated policies, the ruleset
/// compiled from them, and the generation that names both. The CLI, the daemon and the station
/// resolver all work from one snapshot and never go back to the raw config for meaning.
public struct PolicySnapshot: Sendable {
    public var config: Config
    public var catalogue: Catalogue
    /// Named drones in config order, then the unknown devices when drone interfaces are set.
    public var drones: [DronePolicy]
    /// Names the policy (and the table's comment); also in the conntrack marks of accepted flows.
    public var generation: UInt32
    /// The full hash the generation comes from: two policies are the same exactly when it is.
    public var fingerprint: UInt64
    public var ruleset: Ruleset

    /// Validates and compiles an already-read config and catalogue; nil when that adds errors
    /// to `diags` (warnings come either way). Pass the diagnostics the config was read with, so
    /// messages show their source lines.
    public static func build(config: Config, catalogue: Catalogue, resolveUser: PolicyModel.UserResolver,
                             stationNameservers: [String] = [], into diags: inout Diagnostics) -> PolicySnapshot? {
        let errorsBefore = diags.errors.count
        let drones = PolicyModel.validate(config, catalogue: catalogue, resolveUser: resolveUser,
                                          stationNameservers: stationNameservers, into: &diags)
        guard diags.errors.count == errorsBefore else { return nil }
        let fingerprint = PolicyFingerprint.fingerprint(station: config.station, drones: drones, catalogue: catalogue)
        let generation = PolicyFingerprint.generation(of: fingerprint)
        let ruleset = PolicyCompiler(station: config.station, catalogue: catalogue)
            .compile(drones, generation: generation, fingerprint: fingerprint)
        return PolicySnapshot(config: config, catalogue: catalogue, drones: drones, generation: generation,
                              fingerprint: fingerprint, ruleset: ruleset)
    }

    /// This snapshot, with its generation moved on if the table in force (what it names as
    /// applied given) has the same generation for another policy: 16 bits collide once in 65,536
    /// applies, and a collision would keep established flows on the fast path under the new policy.
    public func avoidingGeneration(of running: PolicyComment?) -> PolicySnapshot {
        guard let running, running.generation == generation, running.policy != fingerprint else { return self }
        var s = self
        s.generation = PolicyFingerprint.next(after: generation)
        s.ruleset = PolicyCompiler(station: config.station, catalogue: catalogue)
            .compile(drones, generation: s.generation, fingerprint: fingerprint)
        return s
    }

    /// What `check` says about drone territory: where traffic that matches no drone is judged as
    /// an unknown device's, and what that leaves open.
    public var posture: String {
        let station = config.station
        let policy = station.unknownDevicesPolicy.rawValue
        if !station.uplinkInterfaces.isEmpty {
            return "every link but \(station.uplinkInterfaces.map(\.value).joined(separator: " ")) is drone territory: "
                + "traffic there that matches no drone is an unknown device's (\(policy)), so a drone that changes "
                + "its MAC or address stays filtered"
        }
        if !station.droneInterfaces.isEmpty {
            return "unknown devices only on \(station.droneInterfaces.map(\.value).joined(separator: " ")) (\(policy)); "
                + "a drone known by MAC or address on another link that changes either is forwarded unfiltered "
                + "(set uplink-interfaces to close this)"
        }
        return "no drone territory: only traffic matching a drone's identity is filtered, and a device that changes "
            + "its MAC or address is forwarded unfiltered (set uplink-interfaces to close this)"
    }

    /// True when `running` (what a table names as applied) is this policy, whatever generation it was given.
    public func isApplied(as running: PolicyComment?) -> Bool {
        running?.policy == fingerprint
    }

    /// What this snapshot's table names as applied.
    public var policyComment: PolicyComment {
        PolicyComment(generation: generation, policy: fingerprint, catalogue: catalogue.versionLabel)
    }

    /// The policy of a named drone.
    public func drone(named name: String) -> DronePolicy? { drones.first { $0.droneName == name } }

    /// The table's sets whose elements the station resolver learns at runtime (timeout sets
    /// that the rules do not fill themselves): an apply carries their elements over.
    public var learnedSets: [NamedSet] { ruleset.learnedSets }
}

extension PolicySnapshot {
    /// The line `dronewall apply` prints, also when the daemon applied it. `changedInPlace`: the
    /// daemon sent only the difference, this many objects (nil: the table was replaced, and
    /// `carried` learned addresses went into the new one).
    public func appliedSummary(carried: Int = 0, changedInPlace: Int? = nil) -> String {
        let t = ruleset.table
        var line = "applied table inet \(t.name): \(config.drones.count) drone(s), \(t.chains.count) chains, "
            + "\(t.sets.count) sets, \(t.sets.reduce(0) { $0 + $1.elements.count }) set elements"
        if let changedInPlace {
            line += changedInPlace == 0 ? "; nothing changed, the table stayed as it was"
                : "; changed in place (\(changedInPlace) object(s)), learned addresses untouched"
        } else if carried > 0 {
            line += "; \(carried) learned address(es) kept"
        }
        return line + "; generation 0x" + String(generation >> 16, radix: 16)
    }
}
