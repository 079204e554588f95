import DronewallConfig
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
    public var ruleset: Ruleset

    /// Validates and compiles an already-read config and catalogue; nil when that adds errors
    /// to `diags` (warnings come either way). Pass the diagnostics the config was read with, so
    /// messages show their source lines.
    public static func build(config: Config, catalogue: Catalogue, resolveUser: PolicyModel.UserResolver,
                             into diags: inout Diagnostics) -> PolicySnapshot? {
        let errorsBefore = diags.errors.count
        let drones = PolicyModel.validate(config, catalogue: catalogue, resolveUser: resolveUser, into: &diags)
        guard diags.errors.count == errorsBefore else { return nil }
        let generation = PolicyFingerprint.generation(station: config.station, drones: drones, catalogue: catalogue)
        let ruleset = PolicyCompiler(station: config.station, catalogue: catalogue)
            .compile(drones, generation: generation)
        return PolicySnapshot(config: config, catalogue: catalogue, drones: drones, generation: generation,
                              ruleset: ruleset)
    }

    /// The policy of a named drone.
    public func drone(named name: String) -> DronePolicy? { drones.first { $0.droneName == name } }

    /// The table's sets whose elements the station resolver learns at runtime (timeout sets
    /// that the rules do not fill themselves): an apply carries their elements over.
    public var learnedSets: [NamedSet] { ruleset.learnedSets }
}
