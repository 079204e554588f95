import DronewallConfig
import DronewallPolicy
import FlowLog
import Netfilter
#if canImport(Glibc)
import Glibc
#endif

// dronewalld: applies the policy, then records every blocked (and would-block) transfer from
// NFLOG into the flow log until SIGTERM. Records are written every second, so after kill -9
// at most the last second of events is missing; on SIGTERM everything received is written.

let usage = """
    usage: dronewalld [--config PATH] [--catalogue DIR]... [--db PATH] [--group NAME] [--once]
    Applies the dronewall policy (table inet dronewall), then logs blocked flows until SIGTERM.
      --config PATH    main config file (default /etc/dronewall/dronewall.conf)
      --catalogue DIR  vendor catalogue directory, repeatable (default /usr/share/dronewall/vendors,
                       then /etc/dronewall/vendors.d)
      --db PATH        flow log database (default /var/lib/dronewall/flows.db)
      --group NAME     group whose members may read reports (default dronewall)
      --once           apply and exit, without logging
    Exit status: 0 done; 1 kernel or database failure; 64 usage; 65 config errors; 77 not permitted.

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
guard let ruleset = loaded.ruleset else {
    log("\(loaded.diagnostics.errors.count) error(s) in the configuration; nothing was changed")
    exit(65)
}
do {
    try NftablesClient(transport: try KernelTransport()).apply(ruleset)
    log("applied table inet \(ruleset.table.name) for \(loaded.config.drones.count) drone(s)")
} catch {
    log("\(error)")
    exit(error.isPermissionDenied ? 77 : 1)
}
if once { exit(0) }

if let problem = LogFiles.prepare(databasePath: databasePath, group: group) {
    log(problem)
    exit(1)
}
let store: FlowStore
do {
    store = try FlowStore(path: databasePath)
    _ = LogFiles.prepare(databasePath: databasePath, group: group) // -wal and -shm now exist
} catch {
    log("cannot open the flow log \(databasePath): \(error)")
    exit(1)
}
let reader: NflogReader
do {
    reader = try NflogReader(group: loaded.config.station.logGroup)
} catch {
    log("cannot read NFLOG group \(loaded.config.station.logGroup): \(error)")
    exit(error.isPermissionDenied ? 77 : 1)
}
log("logging blocked flows from NFLOG group \(loaded.config.station.logGroup) to \(databasePath)")

let attribution = Attribution(index: CatalogueIndex(loaded.catalogue))
// Exact totals come from the kernel's counters, read every few seconds (logging is sampled).
let counterClient: NftablesClient? = try? NftablesClient(transport: KernelTransport())
var counters = CounterSnapshots()
var lastCounters: Int64 = 0
var aggregator = FlowAggregator(windowSeconds: 60)
var reported = NflogStats()
var lastFlush = nowMicros()
var lastPrune: Int64 = 0
let retentionMicros = saturatingMicros(seconds: loaded.config.station.logRetentionSeconds)

let writer = FlowWriter(store: store)

/// Reads the logging rules' counters (exact totals; logging itself is sampled) and queues the deltas.
@MainActor func snapshotCounters(_ now: Int64) {
    guard let client = counterClient else { return }
    do {
        guard let status = try client.status(table: KernelLayout.tableName) else { return }
        writer.recordKernelCounts(counters.deltas(from: status), atMicros: now)
    } catch {
        log("reading kernel counters failed: \(error)")
    }
}

/// Hands what was folded since the last flush, and the events lost since then, to the writer.
@MainActor func flush(_ now: Int64) {
    let s = reader.stats
    let lost = Int64((s.sequenceGaps - reported.sequenceGaps) + (s.malformed - reported.malformed))
    writer.submit(aggregator.take(nowMicros: now), lost: lost, overruns: Int64(s.enobufs - reported.enobufs), atMicros: now)
    reported = s
}

var exitCode: Int32 = 0
while !shutdown.requested() {
    do {
        let now = nowMicros()
        for e in try reader.read(timeoutMilliseconds: 200) {
            if let b = attribution.event(e, receivedMicros: now) { aggregator.add(b) }
        }
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
    if now - lastPrune >= 3_600_000_000 {
        writer.prune(olderThanMicros: saturatingDifference(now, retentionMicros), maxBytes: loaded.config.station.logMaxBytes)
        lastPrune = now
    }
}
flush(nowMicros())
snapshotCounters(nowMicros())
let unwritten = writer.drain()
if unwritten > 0 {
    log("stopped; \(unwritten) flow record(s) could not be written")
    exitCode = 1
} else {
    log("stopped; flow log written")
}
exit(exitCode)
