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
        let snapshot = try Loading.compile(source)
        let (config, catalogue) = (snapshot.config, snapshot.catalogue)
        let t = snapshot.ruleset.table
        let elements = t.sets.reduce(0) { $0 + $1.elements.count }
        print("\(source.config): ok — \(config.drones.count) drone(s) in \(config.files.count) file(s), "
              + "\(catalogue.vendors.count) vendor(s) with \(catalogue.endpoints.count) endpoint(s); "
              + "\(t.chains.count) chains, \(t.sets.count) sets, \(elements) set elements")
        print("posture: \(snapshot.posture)")
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the nftables ruleset the config compiles to (nft syntax; `nft -c -f` accepts it).")

    @OptionGroup var source: SourceOptions

    func run() throws {
        print(NftTextRenderer.render(try Loading.compile(source).ruleset), terminator: "")
    }
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the catalogue about a host name or address.",
        discussion: """
        Prints the vendor, categories, matching entry and its source, and (as root, for a name) the \
        addresses the station resolver learned for it with their time left. Exit 0 when the catalogue \
        knows it or addresses were learned for it, 1 when not.
        """)

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
        let isName = (try? IPNetwork.parse(query)) == nil
        let learned = isName ? LearnedAddress.read(for: query.lowercased()) : nil
        switch format {
        case .json:
            var fields: [(String, String)] = [("query", JSONText.string(query))]
            fields.append(("vendor", match.map { JSONText.string($0.vendorID) } ?? "null"))
            fields.append(("categories", "[" + (match?.categories.map { JSONText.string($0.rawValue) } ?? [])
                .joined(separator: ", ") + "]"))
            fields.append(("entry", match.map { JSONText.string($0.pattern.description) } ?? "null"))
            fields.append(("source", match.map { JSONText.string($0.source) } ?? "null"))
            fields.append(("catalogue", JSONText.string(catalogue.versionLabel)))
            if let learned {
                fields.append(("learned", "[" + learned.map { l in
                    JSONText.object([("address", JSONText.string(l.address.description)), ("name", JSONText.string(l.name)),
                                     ("set", JSONText.string(l.set)), ("classes", JSONText.string(l.classes)),
                                     ("expires_in_seconds", String(l.expiresMilliseconds / 1000))])
                }.joined(separator: ", ") + "]"))
            }
            print("{" + fields.map { "\(JSONText.string($0.0)): \($0.1)" }.joined(separator: ", ") + "}")
        case .text:
            if let match, let vendor {
                print("""
                    \(query)
                      vendor:     \(vendor.id) (\(vendor.name), \(vendor.jurisdiction))
                      categories: \(match.categories.map(\.rawValue).joined(separator: " "))
                      entry:      \(match.pattern) (\(match.location))
                      source:     \(match.source)
                      catalogue:  \(catalogue.versionLabel)
                    """)
            } else {
                print("\(query): not in the catalogue (version \(catalogue.versionLabel))")
            }
            if isName {
                guard let learned else {
                    print("  learned:    (the kernel's learned addresses need root or CAP_NET_ADMIN and table inet dronewall)")
                    break
                }
                if learned.isEmpty { print("  learned:    none right now") }
                for l in learned {
                    print("  learned:    \(l.address) (\(l.classes)\(l.name == query.lowercased() ? "" : ", as \(l.name)")) "
                          + "expires in \(l.expiresMilliseconds / 1000)s")
                }
            }
        }
        if match == nil && (learned ?? []).isEmpty { throw ExitCode(ExitCodes.notFound) }
    }
}
