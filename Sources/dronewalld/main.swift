import DronewallConfig
import DronewallPolicy
import Netfilter
#if canImport(Glibc)
import Glibc
#endif

// dronewalld, for now: apply the policy once and exit. The long-running daemon (NFLOG
// reader, flow log, DNS learning) comes with its own issues; its options are already the CLI's.

let usage = """
    usage: dronewalld [--config PATH] [--catalogue DIR]...
    Applies the dronewall policy (table inet dronewall) once and exits.
      --config PATH    main config file (default /etc/dronewall/dronewall.conf)
      --catalogue DIR  vendor catalogue directory, repeatable (default /usr/share/dronewall/vendors,
                       then /etc/dronewall/vendors.d)
    Exit status: 0 applied; 1 refused by the kernel; 64 usage; 65 config errors; 77 not permitted.

    """

func log(_ s: String) { StandardError.write("dronewalld: \(s)\n") }

var configPath = "/etc/dronewall/dronewall.conf"
var catalogues: [String] = []
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "--config", "--catalogue":
        guard let value = args.popFirst() else { StandardError.write(usage); exit(64) }
        if arg == "--config" { configPath = value } else { catalogues.append(value) }
    case "-h", "--help":
        print(usage, terminator: "")
        exit(0)
    default:
        log("unknown argument '\(arg)'")
        StandardError.write(usage)
        exit(64)
    }
}

let result = PolicyLoader(configPath: configPath, catalogueDirectories: catalogues).load()
StandardError.write(result.diagnostics.rendered)
guard let ruleset = result.ruleset else {
    log("\(result.diagnostics.errors.count) error(s) in the configuration; nothing was changed")
    exit(65)
}
do {
    try NftablesClient(transport: try KernelTransport()).apply(ruleset)
    log("applied table inet \(ruleset.table.name) for \(result.config.drones.count) drone(s)")
} catch {
    log("\(error)")
    exit(error.isPermissionDenied ? 77 : 1)
}
