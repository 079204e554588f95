import ArgumentParser
import DronewallConfig

@main
struct Dronewall: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dronewall",
        abstract: "Egress firewall for drone ground stations: per-drone policies enforced in the kernel.",
        discussion: """
        dronewall reads /etc/dronewall/dronewall.conf (plus drones.d/*.conf beside it) and the vendor \
        catalogue, compiles them into the nftables table 'inet dronewall', and sends it to the kernel in \
        one atomic netlink batch. Other tables are never touched.

        Exit codes: 0 success; 1 not found (explain), nothing enforced (status) or refused by the kernel; 65 configuration or catalogue \
        errors; 77 not permitted (apply, flush and status need root or CAP_NET_ADMIN).
        """,
        subcommands: [Check.self, Show.self, Apply.self, Reload.self, Status.self, Explain.self, CatalogueCommand.self, Flush.self,
                      ReportCommand.self, Log.self]
    )
}

/// Where the config and the catalogue come from; shared by every subcommand.
struct SourceOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Main config file; drop-ins are read from drones.d/ beside it.",
                                            valueName: "path"))
    var config: String = ConfigReader.defaultPath

    @Option(name: .long, help: ArgumentHelp("""
        Vendor catalogue directory (repeatable). Replaces the default search path \
        /usr/share/dronewall/vendors, then /etc/dronewall/vendors.d.
        """, valueName: "dir"))
    var catalogue: [String] = []

}

/// sysexits(3) codes used by the CLI.
enum ExitCodes {
    static let failure: Int32 = 1
    static let notFound: Int32 = 1
    static let kernelRefused: Int32 = 1
    static let dataError: Int32 = 65   // EX_DATAERR
    static let noPermission: Int32 = 77 // EX_NOPERM
}
