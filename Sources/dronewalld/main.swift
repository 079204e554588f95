import DronewallConfig
import DronewallPolicy
import FlowLog
import Netfilter
#if canImport(Glibc)
import Glibc
#endif

// dronewalld: applies the policy, then records every blocked (and would-block) transfer from
// NFLOG into the flow log until SIGTERM (or SIGINT, SIGHUP). Records are written every second, so
// after kill -9 at most the last second of events is missing; on SIGTERM everything received is
// written, and so are the kernel counters at that moment. What the rules count while no daemon
// runs is stored at the next start, before the table is replaced.

let usage = """
    usage: dronewalld [--config PATH] [--catalogue DIR]... [--db PATH] [--group NAME] [--once]
    Applies the dronewall policy (table inet dronewall), then logs blocked flows until SIGTERM,
    SIGINT or SIGHUP (each writes everything received, then exits; SIGHUP does not reload).
      --config PATH    main config file (default /etc/dronewall/dronewall.conf)
      --catalogue DIR  vendor catalogue directory, repeatable (default /usr/share/dronewall/vendors,
                       then /etc/dronewall/vendors.d)
      --db PATH        flow log database (default /var/lib/dronewall/flows.db)
      --group NAME     group whose members may read reports (default dronewall)
      --once           apply and exit, without logging
    Exit status: 0 done; 1 kernel or database failure, or another dronewalld running; 64 usage;
    65 config errors; 77 not permitted.

    """

var configPath = "/etc/dronewall/dronewall.conf"
var catalogues: [String] = []
var databasePath = FlowStore.defaultPath
var group = "dronewall"
var once = false
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "--config", "--catalogue", "--db", "--group":
        guard let value = args.popFirst() else { StandardError.write(usage); exit(64) }
        switch arg {
        case "--config": configPath = value
        case "--catalogue": catalogues.append(value)
        case "--db": databasePath = value
        default: group = value
        }
    case "--once": once = true
    case "-h", "--help":
        print(usage, terminator: "")
        exit(0)
    default:
        log("unknown argument '\(arg)'")
        StandardError.write(usage)
        exit(64)
    }
}

// Signals are routed to the signalfd before anything else, so none is lost during start-up.
let shutdown = ShutdownSignal()

let loaded = PolicyLoader(configPath: configPath, catalogueDirectories: catalogues).load()
StandardError.write(loaded.diagnostics.rendered)
guard let snapshot = loaded.snapshot else {
    log("\(loaded.diagnostics.errors.count) error(s) in the configuration; nothing was changed")
    exit(65)
}
let ruleset = snapshot.ruleset
@MainActor func applyPolicy() {
    do {
        try NftablesClient(transport: try KernelTransport()).apply(ruleset)
        log("applied table inet \(ruleset.table.name) for \(loaded.config.drones.count) drone(s)")
    } catch {
        log("\(error)")
        exit(error.isPermissionDenied ? 77 : 1)
    }
}
if once {
    applyPolicy()
    exit(0)
}

// Everything that can tell "another daemon is running" comes before the table is replaced:
// replacing it resets the kernel counters the other daemon is counting from.
if let problem = LogFiles.prepare(databasePath: databasePath, group: group) ?? LogFiles.lock(databasePath: databasePath) {
    log(problem)
    exit(1)
}
let reader: NflogReader
do {
    reader = try NflogReader(group: loaded.config.station.logGroup)
} catch {
    log("cannot read NFLOG group \(loaded.config.station.logGroup): \(error); nothing was changed")
    exit(error.isPermissionDenied ? 77 : 1)
}
let store: FlowStore
do {
    store = try FlowStore(path: databasePath)
    LogFiles.shareFiles(databasePath: databasePath, group: group) // -wal and -shm now exist (and are kept)
} catch {
    log("cannot open the flow log \(databasePath): \(error)")
    exit(1)
}
let writer = FlowWriter(store: store, log: log)

// Exact totals come from the kernel's counters, read every few seconds (logging is sampled).
let counterClient: NftablesClient? = try? NftablesClient(transport: KernelTransport())
var counters: CounterSnapshots
do {
    counters = CounterSnapshots(resuming: try store.lastCounterReading())
} catch {
    log("cannot read the last counter reading from the flow log: \(error)")
    exit(1)
}

/// Set once the daemon's own policy is applied and its resolver runs; the table's comment as
/// last seen (it names the policy and catalogue that are applied).
var followingReapplies = false
var appliedComment: String?

/// Reads the logging rules' counters (exact totals; logging itself is sampled) and queues the deltas.
@MainActor func snapshotCounters(_ now: Int64) {
    guard let client = counterClient else { return }
    do {
        guard let status = try client.status(table: KernelLayout.tableName) else { return }
        let (deltas, reading) = counters.deltas(from: status, identity: counterIdentity(tableHandle: status.handle))
        writer.recordKernelCounts(deltas, reading: reading, atMicros: now)
        if followingReapplies { followReapply(status.comment) }
    } catch {
        log("reading kernel counters failed: \(error)")
    }
}

// The table left by the last run counted on while no daemon ran: store that before it is replaced.
snapshotCounters(nowMicros())
applyPolicy()
log("logging blocked flows from NFLOG group \(loaded.config.station.logGroup) to \(databasePath)")

// The station's resolver: drones' DNS is redirected to it by the table just applied.
var resolver: StationResolver?
if loaded.config.station.dnsResolver {
    do {
        let r = try StationResolver(snapshot)
        if !r.initialPorts.isEmpty {
            try r.start()
            log("resolving names for drones on ports \(r.ports.map(String.init).joined(separator: " ")), "
                + "upstream \(r.upstreams.joined(separator: " "))")
            resolver = r
        }
    } catch {
        // The table redirects drones' DNS here: without the resolver they resolve nothing
        // (fail closed). Say so and stop, so the service manager can restart us.
        log("cannot start the station resolver: \(error); drones cannot resolve names until it runs")
        exit(1)
    }
}

var attribution = Attribution(index: CatalogueIndex(loaded.catalogue))
if let learner = resolver?.learner { attribution.hostName = { learner.name(for: $0) } }

appliedComment = ruleset.table.comment
followingReapplies = true

/// `dronewall apply` replaced the table: when the config file now compiles to exactly what the
/// kernel holds, the resolver and the flow log's attribution follow it (checked with the
/// counters, every 5 s). A table applied from another config is left alone, with a warning.
@MainActor func followReapply(_ comment: String?) {
    guard comment != appliedComment else { return }
    appliedComment = comment
    let fresh = PolicyLoader(configPath: configPath, catalogueDirectories: catalogues).load()
    guard let compiled = fresh.snapshot, compiled.ruleset.table.comment == comment else {
        log("table inet dronewall was replaced with a policy that is not \(configPath) as it reads now; the resolver "
            + "keeps deciding with the policy it has (restart dronewalld to change that)")
        return
    }
    do {
        try resolver?.reload(compiled)
        attribution = Attribution(index: CatalogueIndex(fresh.catalogue), hostName: attribution.hostName)
        log("followed the re-applied policy (\(comment ?? "")): \(fresh.config.drones.count) drone(s)"
            + (resolver.map { ", resolving on ports \($0.ports.map(String.init).joined(separator: " "))" } ?? ""))
    } catch {
        log("cannot follow the re-applied policy: \(error); the resolver keeps the policy it has")
    }
}
var lastCounters: Int64 = 0
var aggregator = FlowAggregator(windowSeconds: 60)
var reported = NflogStats()
var lastFlush = nowMicros()
var lastPrune: Int64 = 0
/// Often enough that one round's batches stay small, also under a flood.
let pruneIntervalMicros: Int64 = 300_000_000
let retentionMicros = saturatingMicros(seconds: loaded.config.station.logRetentionSeconds)

/// Hands what was folded since the last flush, and the events lost since then, to the writer.
@MainActor func flush(_ now: Int64) {
    let s = reader.stats
    let lost = Int64((s.sequenceGaps - reported.sequenceGaps) + (s.malformed - reported.malformed))
    // Events that went with an overrun were lost at the overrun, though only seen missing now.
    let lostAt = s.sequenceGaps > reported.sequenceGaps ? s.gapOverrunMicros : nil
    writer.submit(aggregator.take(nowMicros: now), lost: lost, overruns: Int64(s.enobufs - reported.enobufs),
                  atMicros: now, lossAtMicros: lostAt)
    reported = s
}

@MainActor func fold(_ events: [NflogEvent], _ now: Int64) {
    for e in events {
        if let b = attribution.event(e, receivedMicros: now) { aggregator.add(b) }
    }
    // Names the resolver sinkholed (or, for monitor drones, would have).
    for b in resolver?.takeEvents() ?? [] { aggregator.add(b) }
}

var exitCode: Int32 = 0
while !shutdown.requested() {
    do {
        fold(try reader.read(timeoutMilliseconds: 200), nowMicros())
    } catch {
        log("reading NFLOG failed: \(error)")
        exitCode = 1
        break
    }
    let now = nowMicros()
    if now - lastFlush >= 1_000_000 {
        flush(now)
        lastFlush = now
    }
    if now - lastCounters >= 5_000_000 {
        snapshotCounters(now)
        lastCounters = now
    }
    if now - lastPrune >= pruneIntervalMicros {
        writer.prune(olderThanMicros: saturatingDifference(now, retentionMicros), maxBytes: loaded.config.station.logMaxBytes)
        lastPrune = now
    }
}
// What the kernel still holds: queued on the socket, or in its batch buffer until the NFLOG flush
// timeout (50 ms). Read without waiting until empty, then once more after that timeout; 1 s at most.
if exitCode == 0 {
    let deadline = nowMicros() + 1_000_000
    var timeout = 0
    while nowMicros() < deadline, let events = try? reader.read(timeoutMilliseconds: timeout) {
        fold(events, nowMicros())
        if events.isEmpty {
            if timeout > 0 { break }
            timeout = 100
        } else {
            timeout = 0
        }
    }
}
if let resolver {
    resolver.stop()
    fold([], nowMicros())
    let s = resolver.core.stats.snapshot
    log("resolver: \(s.queries) queries, \(s.answered) answered, \(s.sinkholed) sinkholed, \(s.learnedAnswers) answers "
        + "learned in \(resolver.learner.batches) batches; dropped as malformed: \(s.malformedQueries) queries, "
        + "\(s.malformedAnswers) answers; \(s.upstreamFailures) upstream failures, \(s.learnFailures) learning failures")
}
flush(nowMicros())
snapshotCounters(nowMicros())
let unwritten = writer.drain()
if unwritten.isEmpty {
    log("stopped; flow log written")
} else {
    log("stopped; lost, could not be written: \(unwritten.flows) flow record(s), \(unwritten.kernelCounts) kernel "
        + "counter delta(s), \(unwritten.lostEvents) lost-event count(s)")
    exitCode = 1
}
exit(exitCode)
