import ArgumentParser
import DronewallConfig
import FlowLog
import Station
#if canImport(Glibc)
import Glibc
#endif

/// dronewalld: applies the policy, then records every blocked (and would-block) transfer until
/// SIGTERM, SIGINT or SIGHUP. All behaviour lives in `Station`; this only builds it and turns
/// its loop.
@main
struct Dronewalld: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dronewalld",
        abstract: "Apply the dronewall policy (table inet dronewall), then log blocked flows until stopped.",
        discussion: """
        Records are written every second, so after kill -9 at most the last second of events is \
        missing. SIGTERM, SIGINT and SIGHUP each write everything received and the kernel counters at \
        that moment, then exit (SIGHUP does not reload). What the rules count while no daemon runs is \
        stored at the next start, before the table is replaced. Stopping leaves the rules in force.

        Exit status: 0 done; 1 kernel or database failure, or another dronewalld running; 64 usage; \
        65 config errors; 77 not permitted.
        """)

    @Option(name: .long, help: ArgumentHelp("Main config file.", valueName: "path"))
    var config: String = ConfigReader.defaultPath

    @Option(name: .long, help: ArgumentHelp("""
        Vendor catalogue directory, repeatable (default /usr/share/dronewall/vendors, then \
        /etc/dronewall/vendors.d).
        """, valueName: "dir"))
    var catalogue: [String] = []

    @Option(name: .long, help: ArgumentHelp("Flow log database.", valueName: "path"))
    var db: String = FlowStore.defaultPath

    @Option(name: .long, help: ArgumentHelp("Group whose members may read reports.", valueName: "name"))
    var group: String = "dronewall"

    @Flag(help: "Apply and exit, without logging.")
    var once = false

    func run() throws {
        // Signals are routed to a pending set before anything else, so none is lost during start-up.
        let shutdown = ShutdownSignal()
        let options = StationOptions(configPath: config, catalogueDirectories: catalogue, databasePath: db, group: group)
        do throws(StationError) {
            try serve(options, shutdown)
        } catch {
            log("\(error)")
            throw ExitCode(error.exitCode)
        }
    }

    func serve(_ options: StationOptions, _ shutdown: ShutdownSignal) throws(StationError) {
        let loaded = options.load()
        StandardError.write(loaded.diagnostics.rendered)
        guard let snapshot = loaded.snapshot else { throw .config(loaded.diagnostics) }
        if once { return try Station.applyOnce(snapshot, log: log) }

        let station = try Station.open(snapshot, options: options, log: log)
        try station.start()
        var failure: StationError?
        while !shutdown.requested() {
            do {
                try station.tick()
            } catch {
                failure = error
                break
            }
        }
        let unwritten = station.stop(drainNFLOG: failure == nil)
        if let failure { throw failure }
        guard unwritten.isEmpty else {
            throw .unwritten("stopped; lost, could not be written: \(unwritten.flows) flow record(s), "
                             + "\(unwritten.kernelCounts) kernel counter delta(s), \(unwritten.lostEvents) lost-event count(s)")
        }
        log("stopped; flow log written")
    }
}

@Sendable func log(_ s: String) { StandardError.write("dronewalld: \(s)\n") }

/// SIGTERM, SIGINT and SIGHUP are blocked and stay pending until the main loop polls them
/// between reads (no asynchronous handler touching shared state). SIGHUP stops the daemon like
/// SIGTERM, after writing everything (there is no reload yet; its default action would kill the
/// daemon without a flush).
struct ShutdownSignal {
    private var set = sigset_t()

    init() {
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// True once a shutdown signal has arrived (polls without waiting).
    func requested() -> Bool {
        var pending = set
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        return sigtimedwait(&pending, nil, &zero) > 0
    }
}
