import ArgumentParser
import DronewallConfig
import DronewallPolicy
import NftModel
import FlowLog

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate the config and catalogue; print every error with file:line:col.",
        discussion: "Nothing is sent to the kernel. Exit 0 when valid (warnings allowed), 65 on errors.")

    @OptionGroup var source: SourceOptions

    func run() throws {
        let (ruleset, config, catalogue) = try Loading.compile(source)
        let t = ruleset.table
        let elements = t.sets.reduce(0) { $0 + $1.elements.count }
        print("\(source.config): ok — \(config.drones.count) drone(s) in \(config.files.count) file(s), "
              + "\(catalogue.vendors.count) vendor(s) with \(catalogue.endpoints.count) endpoint(s); "
              + "\(t.chains.count) chains, \(t.sets.count) sets, \(elements) set elements")
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the nftables ruleset the config compiles to (nft syntax; `nft -c -f` accepts it).")

    @OptionGroup var source: SourceOptions

    func run() throws {
        let (ruleset, _, _) = try Loading.compile(source)
        print(NftTextRenderer.render(ruleset), terminator: "")
    }
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the catalogue about a host name or address.",
        discussion: "Prints the vendor, categories, matching entry and its source. Exit 0 when the catalogue knows it, 1 when not.")

    @OptionGroup var source: SourceOptions

    @Argument(help: "A host name (matches catalogue domains and their parents) or an IPv4/IPv6 address.")
    var query: String

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    enum OutputFormat: String, ExpressibleByArgument { case text, json }

    func run() throws {
        let catalogue = try Loading.catalogue(source)
        let match = CatalogueIndex(catalogue).match(query: query)
        let vendor = match.flatMap { catalogue.vendor($0.vendorID) }
        switch format {
        case .json:
            var fields: [(String, String)] = [("query", JSONText.string(query))]
            fields.append(("vendor", match.map { JSONText.string($0.vendorID) } ?? "null"))
            fields.append(("categories", "[" + (match?.categories.map { JSONText.string($0.rawValue) } ?? [])
                .joined(separator: ", ") + "]"))
            fields.append(("entry", match.map { JSONText.string($0.pattern.description) } ?? "null"))
            fields.append(("source", match.map { JSONText.string($0.source) } ?? "null"))
            fields.append(("catalogue", JSONText.string(catalogue.versionLabel)))
            print("{" + fields.map { "\(JSONText.string($0.0)): \($0.1)" }.joined(separator: ", ") + "}")
        case .text:
            guard let match, let vendor else {
                print("\(query): not in the catalogue (version \(catalogue.versionLabel))")
                break
            }
            print("""
                \(query)
                  vendor:     \(vendor.id) (\(vendor.name), \(vendor.jurisdiction))
                  categories: \(match.categories.map(\.rawValue).joined(separator: " "))
                  entry:      \(match.pattern) (\(match.location))
                  source:     \(match.source)
                  catalogue:  \(catalogue.versionLabel)
                """)
        }
        if match == nil { throw ExitCode(ExitCodes.notFound) }
    }
}
