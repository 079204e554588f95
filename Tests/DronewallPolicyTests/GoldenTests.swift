import Testing
import DronewallConfig
import DronewallPolicy
import NftModel
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Config -> expected nft text. Regenerate with DRONEWALL_UPDATE_GOLDEN=1 swift test,
/// then read the diff: it is the change in what the kernel will enforce.
@Suite struct GoldenTests {
    @Test(arguments: ["gateway", "local-user", "catalogue-networks"])
    func compilesToGoldenText(name: String) throws {
        let dir = goldenDirectory + "/" + name
        let (ruleset, diags) = compile(configPath: dir + "/dronewall.conf")
        let r = try #require(ruleset, "\(diags.rendered)")
        let text = NftTextRenderer.render(r)
        let expectedPath = dir + "/expected.nft"
        if ProcessInfo.processInfo.environment["DRONEWALL_UPDATE_GOLDEN"] != nil {
            try Data(text.utf8).write(to: URL(fileURLWithPath: expectedPath))
        }
        let expected = try String(decoding: Data(contentsOf: URL(fileURLWithPath: expectedPath)), as: UTF8.self)
        #expect(text == expected, "golden mismatch for \(name); rerun with DRONEWALL_UPDATE_GOLDEN=1 and review the diff")
    }
}
