import DronewallConfig
import DronewallPolicy
import NftModel
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The test directory holding golden configs and expected nft text.
let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path

/// Users the tests' "station" knows.
let testUsers: @Sendable (String) -> UInt32? = { ["pilot": 1000, "root": 0][$0] }

/// Reads a config (and the fixture catalogue) from disk and compiles it.
func compile(configPath: String, catalogueDirs: [String] = [goldenDirectory]) -> (Ruleset?, Diagnostics) {
    let (catalogue, catDiags) = CatalogueReader().read(directories: catalogueDirs)
    var (config, diags) = ConfigReader().read(mainPath: configPath)
    diags.append(contentsOf: catDiags)
    guard !diags.hasErrors else { return (nil, diags) }
    let r = PolicySnapshot.build(config: config, catalogue: catalogue, resolveUser: testUsers, into: &diags)
    return (r?.ruleset, diags)
}

/// Compiles config text against the fixture catalogue.
func compile(text: String) -> (Ruleset?, Diagnostics) {
    let (catalogue, _) = CatalogueReader().read(directories: [goldenDirectory])
    var (config, diags) = ConfigReader(reader: MemoryReader(["/t.conf": text])).read(mainPath: "/t.conf")
    guard !diags.hasErrors else { return (nil, diags) }
    let r = PolicySnapshot.build(config: config, catalogue: catalogue, resolveUser: testUsers, into: &diags)
    return (r?.ruleset, diags)
}

/// The validated policies of config text, against the fixture catalogue.
func snapshot(text: String) -> (PolicySnapshot?, Diagnostics) {
    let (catalogue, _) = CatalogueReader().read(directories: [goldenDirectory])
    var (config, diags) = ConfigReader(reader: MemoryReader(["/t.conf": text])).read(mainPath: "/t.conf")
    guard !diags.hasErrors else { return (nil, diags) }
    return (PolicySnapshot.build(config: config, catalogue: catalogue, resolveUser: testUsers, into: &diags), diags)
}
