import ArgumentParser
import DronewallConfig
import DronewallPolicy
import FlowLog

/// `dronewall catalogue`: what the vendor catalogue knows, and what a config does with it.
struct CatalogueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalogue",
        abstract: "List the catalogue's vendors, a vendor's endpoints, or what a drone's policy blocks.",
        discussion: """
        Reads the catalogue directories (default /usr/share/dronewall/vendors, then /etc/dronewall/vendors.d) \
        and prints their dated version. Nothing is sent to the kernel; no root needed.
        """,
        subcommands: [Vendors.self, VendorEndpoints.self, DroneEntries.self],
        defaultSubcommand: Vendors.self)

    enum Format: String, ExpressibleByArgument { case text, json }

    struct Vendors: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vendors", abstract: "List vendors with their number of endpoints per category (the default).")
        @OptionGroup var source: SourceOptions
        @Option(help: "text or json.") var format: Format = .text

        func run() throws {
            let catalogue = try Loading.catalogue(source)
            switch format {
            case .json:
                let items = catalogue.vendors.map { v in
                    JSONText.object([("id", JSONText.string(v.id)), ("name", JSONText.string(v.name)),
                                     ("jurisdiction", JSONText.string(v.jurisdiction)),
                                     ("endpoints", String(v.endpoints.count)),
                                     ("categories", JSONText.object(perCategory(v.endpoints).map { ($0.0.rawValue, String($0.1)) }))])
                }
                print(JSONText.object([("catalogue", JSONText.string(catalogue.versionLabel)),
                                       ("vendors", "[" + items.joined(separator: ", ") + "]")]))
            case .text:
                print("catalogue \(catalogue.versionLabel): \(catalogue.vendors.count) vendor(s), "
                      + "\(catalogue.endpoints.count) endpoint(s)\n")
                var rows = [["vendor", "jurisdiction", "endpoints", "name", "categories (endpoints each)"]]
                for v in catalogue.vendors.sorted(by: { $0.id < $1.id }) {
                    let cats = perCategory(v.endpoints).map { "\($0.0.rawValue) \($0.1)" }.joined(separator: ", ")
                    rows.append([v.id, v.jurisdiction, String(v.endpoints.count), v.name, cats])
                }
                print(Columns.align(rows), terminator: "")
            }
        }
    }

    struct VendorEndpoints: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vendor", abstract: "List one vendor's endpoints by category, with their sources.")
        @OptionGroup var source: SourceOptions
        @Argument(help: "Vendor id, as `dronewall catalogue` lists it.") var id: String
        @Option(help: "Only endpoints serving this category.") var category: String?
        @Option(help: "text or json.") var format: Format = .text

        func run() throws {
            let catalogue = try Loading.catalogue(source)
            guard let v = catalogue.vendor(id) else {
                printStderr("dronewall: no vendor '\(id)' in catalogue \(catalogue.versionLabel); "
                            + "known: \(catalogue.vendors.map(\.id).sorted().joined(separator: " "))\n")
                throw ExitCode(ExitCodes.notFound)
            }
            var only: Category?
            if let category {
                guard let c = Category(rawValue: category) else {
                    throw ValidationError("--category: one of \(Category.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                only = c
            }
            let endpoints = v.endpoints.filter { only == nil || $0.categories.contains(only!) }
            switch format {
            case .json:
                let items = endpoints.map { e in
                    JSONText.object([("entry", JSONText.string(e.pattern.description)),
                                     ("categories", "[" + e.categories.map { JSONText.string($0.rawValue) }.joined(separator: ", ") + "]"),
                                     ("source", JSONText.string(e.source)), ("file", JSONText.string(e.location.description))])
                }
                print(JSONText.object([("catalogue", JSONText.string(catalogue.versionLabel)), ("vendor", JSONText.string(v.id)),
                                       ("endpoints", "[" + items.joined(separator: ",\n ") + "]")]))
            case .text:
                print("\(v.id): \(v.name) (\(v.jurisdiction)), \(v.endpoints.count) endpoint(s); catalogue \(catalogue.versionLabel)")
                for c in Category.allCases where only == nil || only == c {
                    let here = endpoints.filter { $0.categories.contains(c) }
                    guard !here.isEmpty else { continue }
                    print("\n\(c.rawValue) (\(here.count)):")
                    for e in here {
                        let also = e.categories.filter { $0 != c }.map(\.rawValue)
                        print("  \(e.pattern)\(also.isEmpty ? "" : "  (also \(also.joined(separator: ", ")))")")
                        print("      source: \(e.source)")
                    }
                }
            }
        }
    }

    struct DroneEntries: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "drone",
            abstract: "Show which catalogue entries the config blocks for a drone, and why.",
            discussion: "Entries are grouped as blocked, would-block (monitor) and allowed.")
        @OptionGroup var source: SourceOptions
        @Argument(help: "Drone name, as in [drone NAME].") var name: String
        @Option(help: "Only this vendor id.") var vendor: String?
        @Option(help: "text or json.") var format: Format = .text

        func run() throws {
            let snapshot = try Loading.compile(source)
            let catalogue = snapshot.catalogue
            guard let drone = snapshot.drone(named: name) else {
                printStderr("dronewall: no [drone \(name)] in \(source.config); "
                            + "known: \(snapshot.drones.compactMap(\.droneName).joined(separator: " "))\n")
                throw ExitCode(ExitCodes.notFound)
            }
            let all = drone.verdicts(catalogue)
            let verdicts = all.filter { vendor == nil || $0.endpoint.vendorID == vendor }
            switch format {
            case .json:
                let items = verdicts.map { v in
                    JSONText.object([("entry", JSONText.string(v.endpoint.pattern.description)),
                                     ("vendor", JSONText.string(v.endpoint.vendorID)),
                                     ("categories", "[" + v.endpoint.categories.map { JSONText.string($0.rawValue) }.joined(separator: ", ") + "]"),
                                     ("verdict", JSONText.string(v.outcome.rawValue)), ("reason", JSONText.string(v.reason))])
                }
                print(JSONText.object([("drone", JSONText.string(name)),
                                       ("policy", JSONText.string(drone.kind.rawValue)),
                                       ("catalogue", JSONText.string(catalogue.versionLabel)),
                                       ("entries", "[" + items.joined(separator: ",\n ") + "]")]))
            case .text:
                let counts = EndpointVerdict.Outcome.allCasesInOrder.map { o in "\(verdicts.filter { $0.outcome == o }.count) \(o.rawValue)" }
                print("drone \(name), policy \(drone.kind.rawValue); catalogue \(catalogue.versionLabel): "
                      + counts.joined(separator: ", "))
                for o in EndpointVerdict.Outcome.allCasesInOrder {
                    let here = verdicts.filter { $0.outcome == o }
                    guard !here.isEmpty else { continue }
                    print("\n\(o.rawValue):")
                    print(Columns.align(here.map { ["  " + $0.endpoint.pattern.description, $0.endpoint.vendorID, $0.reason] }),
                          terminator: "")
                }
            }
        }
    }

    /// Endpoints per category, in the vocabulary's order, categories without endpoints left out.
    static func perCategory(_ endpoints: [Endpoint]) -> [(Category, Int)] {
        Category.allCases.compactMap { c in
            let n = endpoints.filter { $0.categories.contains(c) }.count
            return n == 0 ? nil : (c, n)
        }
    }
}

extension EndpointVerdict.Outcome {
    static let allCasesInOrder: [Self] = [.blocked, .wouldBlock, .allowed]
}

/// Left-aligned columns, two spaces apart, for the catalogue listings.
enum Columns {
    static func align(_ rows: [[String]]) -> String {
        guard let width = rows.map(\.count).max() else { return "" }
        var widths = Array(repeating: 0, count: width)
        for row in rows { for (i, f) in row.enumerated() { widths[i] = max(widths[i], f.count) } }
        return rows.map { row in
            var line = ""
            for (i, f) in row.enumerated() {
                line += i == row.count - 1 ? f : f + String(repeating: " ", count: widths[i] - f.count + 2)
            }
            return line
        }.joined(separator: "\n") + "\n"
    }
}
