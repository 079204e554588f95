import ArgumentParser
import Control
import DronewallConfig
import FlowLog
import Station
#if canImport(Glibc)
import Glibc
#endif

/// dronewalld: applies the policy, then records every blocked (and would-block) transfer until
/// SIGTERM or SIGINT; SIGHUP and `dronewall apply` / `reload` / `flush` change the table through
/// it. All behaviour lives in `Station`; this builds it, turns its loop and answers requests.
@main
struct Dronewalld: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dronewalld",
        abstract: "Apply the dronewall policy (table inet dronewall), then log blocked flows until stopped.",
        discussion: """
        While it runs, dronewalld is the only writer of table inet dronewall: on Linux 6.9 and later the \
        table belongs to its netlink socket (other programs, nft included, cannot change or delete it, and \
        `nft flush ruleset` passes it by) and stays in force when the daemon stops; the next daemon adopts \
        it. On older kernels the daemon applies it again within 5 s when another program removes or \
        replaces it. `dronewall apply`, `reload` and `flush` ask the daemon through its control socket \
        (@dronewall/control, per network namespace, root only).

        SIGHUP reads the config and catalogue again and applies them; a config with errors or a batch \
        the kernel refuses leaves the running table as it was, and the log says why. SIGTERM and SIGINT \
        write everything received and the kernel counters at that moment, then exit; the rules stay in \
        force. Records are written every second, so after kill -9 at most the last second of events is \
        missing. What the rules count while no daemon runs is stored at the next start.

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
        let signals = Signals()
        let options = StationOptions(configPath: config, catalogueDirectories: catalogue, databasePath: db, group: group)
        do throws(StationError) {
            try serve(options, signals)
        } catch {
            log(.error, "\(error)")
            throw ExitCode(error.exitCode)
        }
    }

    func serve(_ options: StationOptions, _ signals: Signals) throws(StationError) {
        let (loaded, sources) = options.loadKeepingSources()
        StandardError.write(loaded.diagnostics.rendered)
        if once {
            guard let snapshot = loaded.snapshot else { throw .config(loaded.diagnostics) }
            return try Station.applyOnce(snapshot, log: log)
        }
        let (snapshot, how, applied) = try options.startingPolicy(loaded, sources: sources, log: log)

        // Opening a flow log written by an older version may first build its hourly sums (about a
        // minute for 10M records): more than systemd's start timeout, so ask for more (systemd.exec
        // EXTEND_TIMEOUT_USEC, sd_notify(3)); READY follows as soon as the table is in force.
        let systemd = ServiceNotifier()
        systemd.notify("EXTEND_TIMEOUT_USEC=600000000\nSTATUS=opening the flow log \(options.databasePath)")
        let station = try Station.open(snapshot, options: options, log: log)
        let control: ControlServer
        do {
            control = try ControlServer()
        } catch {
            throw .busy("cannot answer on the control socket: \(error) (is another dronewalld running in this network namespace?)")
        }
        try station.start()
        if loaded.snapshot != nil, let problem = sources.write(to: options.lastKnownGoodPath) { log(.warning, problem) }
        // systemd (Type=notify): ready once the table is in the kernel, not before.
        systemd.notify("READY=1\nSTATUS=enforcing table inet dronewall for \(station.snapshot.config.drones.count) drone(s)")
        var desk = Operator(station: station, options: options, how: how, sources: applied)
        var failure: StationError?
        loop: while true {
            systemd.keepAlive(nowMicros: systemMicros())
            switch signals.take() {
            case .stop: break loop
            case .reload:
                systemd.reloading()
                let r = desk.reload()
                for line in (r.output + r.errors).split(separator: "\n") { log(r.exitCode == 0 ? .notice : .error, "SIGHUP: \(line)") }
                systemd.notify("READY=1")
            case nil: break
            }
            do {
                try station.tick()
            } catch {
                failure = error
                break
            }
            for request in control.takeWaiting() {
                let (reply, stop) = desk.answer(request.request)
                request.reply(reply)
                if stop { break loop }
            }
        }
        systemd.notify("STOPPING=1")
        let unwritten = station.stop(drainNFLOG: failure == nil)
        if let failure { throw failure }
        guard unwritten.isEmpty else {
            throw .unwritten("stopped; lost, could not be written: \(unwritten.flows) flow record(s), "
                             + "\(unwritten.kernelCounts) kernel counter delta(s), \(unwritten.lostEvents) lost-event count(s)")
        }
        log(.notice, "stopped; flow log written")
    }
}

@Sendable func log(_ level: LogLevel, _ s: String) { StandardError.write(Journal.lines(level, s, tag: "dronewalld: ")) }

/// SIGTERM, SIGINT and SIGHUP are blocked and stay pending until the main loop polls them
/// between reads (no asynchronous handler touching shared state).
struct Signals {
    enum Request { case stop, reload }
    private var set = sigset_t()

    init() {
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// The signal waiting, if any (polls without waiting); a stop wins over a reload.
    func take() -> Request? {
        var pending = set
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        var seen: Request?
        while true {
            let s = sigtimedwait(&pending, nil, &zero)
            if s == SIGTERM || s == SIGINT { return .stop }
            if s == SIGHUP { seen = .reload; continue }
            return seen
        }
    }
}
