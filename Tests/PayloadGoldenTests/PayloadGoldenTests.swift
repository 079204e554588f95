import Testing
import DronewallConfig
import DronewallPolicy
import Netfilter
import NftModel
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The golden configs of DronewallPolicyTests; `expected.payload` sits beside each `expected.nft`.
let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("DronewallPolicyTests/Golden").path

/// Config -> netlink payload of every rule, as libnftnl's debug text (nft's `tests/py/*.payload`
/// notation). Rootless: it pins our encoding, where the root lab test can only pin the kernel's
/// reading of it. Regenerate with DRONEWALL_UPDATE_GOLDEN=1 swift test, then review the diff.
@Suite struct PayloadGoldenTests {
    @Test(arguments: ["gateway", "local-user", "catalogue-networks"])
    func linearizesToGoldenPayload(name: String) throws {
        let dir = goldenDirectory + "/" + name
        let ruleset = try compileGolden(configPath: dir + "/dronewall.conf")
        let update = ProcessInfo.processInfo.environment["DRONEWALL_UPDATE_GOLDEN"] != nil
        if !update {
            // The same ruleset as the text golden, else this file would pin something else.
            // (Skipped while updating: GoldenTests may be rewriting expected.nft right now.)
            let nft = try String(decoding: Data(contentsOf: URL(fileURLWithPath: dir + "/expected.nft")), as: UTF8.self)
            if NftTextRenderer.render(ruleset) != nft {
                Issue.record("\(name): compiled ruleset differs from expected.nft; update that golden first")
            }
        }
        let text = try payloadGolden(ruleset)
        let expectedPath = dir + "/expected.payload"
        if update {
            try Data(text.utf8).write(to: URL(fileURLWithPath: expectedPath))
        }
        let expected = try String(decoding: Data(contentsOf: URL(fileURLWithPath: expectedPath)), as: UTF8.self)
        // Name the first differing line and its rule rather than printing thousands of lines.
        if let d = firstDifference(text, expected) {
            Issue.record("""
                payload golden mismatch for \(name) at expected.payload:\(d.line) (\(d.rule)):
                  expected: \(d.expected)
                  actual:   \(d.actual)
                rerun with DRONEWALL_UPDATE_GOLDEN=1 and review the diff
                """)
        }
    }
}

/// The first line where `actual` and `expected` differ, with the rule header above it.
func firstDifference(_ actual: String, _ expected: String)
    -> (line: Int, rule: String, expected: String, actual: String)? {
    let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
    let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
    var rule = "header"
    for i in 0..<max(a.count, e.count) {
        let x = i < a.count ? String(a[i]) : "(end of text)"
        let y = i < e.count ? String(e[i]) : "(end of file)"
        if x != y { return (i + 1, rule, y, x) }
        if y.hasPrefix("# ") && i > 0 { rule = String(y.dropFirst(2).prefix { $0 != ":" }) }
    }
    return nil
}

/// The golden text: per rule a `# chain rule N: nft text` comment, then libnftnl's lines
/// (trailing blanks trimmed), a blank line between rules.
func payloadGolden(_ ruleset: Ruleset) throws -> String {
    var out = "# libnftnl debug text of every rule (nft --debug=netlink); regenerate with DRONEWALL_UPDATE_GOLDEN=1\n"
    // rulePayloads keeps the table's chain and rule order.
    for (chain, payloads) in zip(ruleset.table.chains, try rulePayloads(ruleset)) {
        for (i, (rule, payload)) in zip(chain.rules, payloads.rules).enumerated() {
            out += "\n# \(chain.name) rule \(i + 1): \(NftTextRenderer.render(rule: rule))\n"
            for var line in payload.split(separator: "\n") {
                while line.last == " " { line.removeLast() } // libnftnl ends its header line with a blank
                out += line + "\n"
            }
        }
    }
    return out
}

/// Compiles a golden config against the fixture catalogue, with the users the policy tests'
/// station knows (as `DronewallPolicyTests/Support.swift` does, so the rulesets are the same).
func compileGolden(configPath: String) throws -> Ruleset {
    let (catalogue, catalogueDiags) = CatalogueReader().read(directories: [goldenDirectory])
    var (config, diags) = ConfigReader().read(mainPath: configPath)
    diags.append(contentsOf: catalogueDiags)
    let users: @Sendable (String) -> UInt32? = { ["pilot": 1000, "root": 0][$0] }
    let ruleset = diags.hasErrors ? nil
        : PolicySnapshot.build(config: config, catalogue: catalogue, resolveUser: users, into: &diags)?.ruleset
    return try #require(ruleset, "\(diags.rendered)")
}
