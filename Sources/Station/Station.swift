import DronewallConfig
import DronewallPolicy
import FlowLog
import KernelLayout
import NetAddress
import Netfilter
import NftModel
import StationResolver

/// The running station: it applies the policy, then turns every blocked (and would-block)
/// packet the kernel logs into flow records, keeps the kernel's exact counter totals, runs the
/// station resolver, applies a changed policy when asked (`apply`), and puts its table back when
/// another program removed or replaced it.
///
/// One owner of the runtime state; `dronewalld` only builds it and turns the loop. Every part
/// comes in through `init`, so tests drive it with a scripted kernel and NFLOG socket.
public final class Station {
    /// Where the station's pieces come from.
    public struct Parts {
        public var kernel: StationKernel
        public var nflog: NflogReader
        public var writer: FlowWriter
        /// Where the writer writes, for the log.
        public var databasePath: String
        /// Where the addresses held for catalogued names are kept over a restart or a reboot
        /// (nil: not kept).
        public var heldAddressesPath: String?
        /// The last counter reading the flow log stored (nil: none yet).
        public var lastCounterReading: FlowStore.CounterReading?
        /// Starts the station resolver for a snapshot; nil when it has no one to serve.
        public var startResolver: (PolicySnapshot) throws -> StationResolving?
        /// Other programs' nf_tables commits that touch the table or add a base chain, since the
        /// last call, and whether notifications were lost (nil: not watched).
        public var foreignChanges: (() -> (changes: [ForeignChange], lost: Bool))?
        /// Which table instance a reading is from (see `tableInstanceIdentity`).
        public var counterIdentity: (UInt64?) -> String
        public var clock: () -> Int64
        public var log: @Sendable (LogLevel, String) -> Void

        public init(kernel: StationKernel, nflog: NflogReader, writer: FlowWriter, databasePath: String,
                    lastCounterReading: FlowStore.CounterReading?,
                    startResolver: @escaping (PolicySnapshot) throws -> StationResolving?,
                    counterIdentity: @escaping (UInt64?) -> String = { tableInstanceIdentity(tableHandle: $0) },
                    clock: @escaping () -> Int64 = systemMicros, log: @escaping @Sendable (LogLevel, String) -> Void) {
            self.kernel = kernel
            self.nflog = nflog
            self.writer = writer
            self.databasePath = databasePath
            self.heldAddressesPath = nil
            self.lastCounterReading = lastCounterReading
            self.startResolver = startResolver
            self.foreignChanges = nil
            self.counterIdentity = counterIdentity
            self.clock = clock
            self.log = log
        }
    }

    /// How often the loop does each of its chores, in microseconds.
    public struct Intervals: Sendable {
        /// Hand folded flows to the writer (after kill -9, at most this much is missing).
        public var flush: Int64 = 1_000_000
        /// Read the kernel's counters (and notice a table removed or replaced behind our back).
        public var counters: Int64 = 5_000_000
        /// Prune old records; often enough that one round's batches stay small, also under a flood.
        public var prune: Int64 = 300_000_000
        /// How long one turn waits for NFLOG events.
        public var readTimeoutMilliseconds = 200
        public init() {}
    }

    public private(set) var snapshot: PolicySnapshot
    let parts: Parts
    let intervals: Intervals
    private var counters: CounterSnapshots
    private var attribution: Attribution
    private var aggregator = FlowAggregator(windowSeconds: 60)
    private var announcer = FlowAnnouncer()
    private var resolver: StationResolving?
    /// Loss counts of the reader as last handed to the writer.
    private var reported = NflogStats()
    /// What the table this station applied last names as applied: policy and catalogue.
    private var appliedPolicy: PolicyComment?
    /// The ruleset this station applied last and the table instance that holds it exactly, as
    /// far as this station knows: the base of an incremental apply. Nil after anything that
    /// makes that doubtful (another program touched the table, a failed read, a flush).
    private var inForce: (ruleset: Ruleset, instance: TableInstance)?
    /// Set once this station's own policy is applied and its resolver runs.
    private var guarding = false
    /// What the table named as applied at the last counter reading (before start: the table in force).
    private var lastSeenPolicy: PolicyComment?
    private var lastFlush: Int64 = 0, lastCounters: Int64 = 0, lastPrune: Int64 = 0
    /// Other programs' changes seen while running, and the last one (for `status`).
    public private(set) var foreignChangeCount = 0
    public private(set) var lastForeignChange: String?

    public init(snapshot: PolicySnapshot, parts: Parts, intervals: Intervals = Intervals()) {
        self.snapshot = snapshot
        self.parts = parts
        self.intervals = intervals
        counters = CounterSnapshots(resuming: parts.lastCounterReading)
        attribution = Attribution(index: CatalogueIndex(snapshot.catalogue))
    }

    /// The resolver's ports, once it runs.
    public var resolverPorts: [Int] { resolver?.ports ?? [] }

    /// Stores what the table left by the last run counted while no daemon ran (before it is
    /// replaced), applies the policy, and starts the resolver the new table redirects DNS to.
    public func start() throws(StationError) {
        _ = readCounters(parts.clock())
        snapshot = snapshot.avoidingGeneration(of: lastSeenPolicy)
        do {
            _ = try parts.kernel.apply(snapshot.ruleset)
            remember(snapshot.ruleset)
            parts.log(.notice, "applied table inet \(snapshot.ruleset.table.name) for \(snapshot.config.drones.count) drone(s)")
            if parts.kernel.ownsTable {
                parts.log(.info, "the table is this daemon's own: no other program can change or delete it, and it stays in "
                          + "force when dronewalld stops")
            } else if let refused = parts.kernel.ownershipRefused {
                parts.log(.warning, "this kernel cannot keep a table owned by dronewalld (persist needs Linux 6.9): "
                          + "\(refused.reason.dropFirst(2)); other programs can change or delete it, and dronewalld "
                          + "applies it again within \(intervals.counters / 1_000_000) s when they do")
            }
        } catch {
            throw .kernel("applying table inet \(snapshot.ruleset.table.name) failed", error)
        }
        restoreHeldAddresses()  // before the resolver starts: its learner reads what the sets hold
        parts.log(.info, "logging blocked flows from NFLOG group \(parts.nflog.group) to \(parts.databasePath)")
        do {
            resolver = try parts.startResolver(snapshot)
        } catch {
            // The table redirects drones' DNS here: without the resolver they resolve nothing
            // (fail closed). Say so and stop, so the service manager can restart us.
            throw .resolver("cannot start the station resolver: \(error); drones cannot resolve names until it runs")
        }
        if let r = resolver {
            parts.log(.info, "resolving names for drones on ports \(r.ports.map(String.init).joined(separator: " ")), "
                      + "upstream \(r.upstreams.joined(separator: " "))")
            attribution = Attribution(index: CatalogueIndex(snapshot.catalogue), hostName: { [r] in r.hostName(for: $0) })
        }
        appliedPolicy = snapshot.policyComment
        guarding = true
        lastFlush = parts.clock() // counters and pruning are due at the first turn
    }

    /// One turn of the loop: waits up to the read timeout for logged packets, folds them into
    /// flows, and does whichever chores are due (flush, counters and re-apply, pruning).
    public func tick() throws(StationError) {
        do {
            fold(try parts.nflog.read(timeoutMilliseconds: intervals.readTimeoutMilliseconds), parts.clock())
        } catch {
            throw .kernel("reading NFLOG failed", error)
        }
        let now = parts.clock()
        watchForeignChanges(now)
        if now - lastFlush >= intervals.flush {
            flush(now)
            lastFlush = now
        }
        if now - lastCounters >= intervals.counters {
            let status = readCounters(now)
            if guarding { guardTable(status) }
            lastCounters = now
        }
        if now - lastPrune >= intervals.prune {
            let station = snapshot.config.station
            let cutoff = saturatingDifference(now, saturatingMicros(seconds: station.logRetentionSeconds))
            parts.writer.prune(olderThanMicros: cutoff, maxBytes: station.logMaxBytes)
            saveHeldAddresses()
            lastPrune = now
        }
    }

    /// How long the last apply took until the kernel had committed it (the resolver and the
    /// attribution follow after that), in microseconds.
    public private(set) var lastApplyMicros: Int64 = 0
    /// When the kernel acknowledged the last apply's batch (monotonic): what follows it (storing
    /// the replaced rules' counters, reading the table back) is not on the way to enforcement.
    private var committedAt: Int64 = 0

    /// How an apply reached the kernel.
    public enum Applied: Sendable, Equatable {
        /// The table was replaced; this many learned addresses were carried into the new one.
        case replaced(carried: Int)
        /// Only what differs was sent (this many chains, sets, rules and elements); the rest of
        /// the table, learned addresses included, stayed in place.
        case changed(objects: Int)
    }

    /// Puts `fresh` in force (what the kernel counted so far is stored first); the resolver and
    /// the flow log's attribution decide with it from then on. When the kernel still holds
    /// exactly the table this station applied last, only the difference is sent, in one batch;
    /// otherwise, or if the kernel refuses that batch, the table is replaced. On error the running
    /// table, and everything deciding with it, stay as they were.
    @discardableResult
    public func apply(_ fresh: PolicySnapshot) throws(StationError) -> Applied {
        let started = monotonicMicros()
        let touched = noteForeignChanges(parts.clock())
        let applied: Applied
        var next = fresh.avoidingGeneration(of: lastSeenPolicy)
        if !touched, let changed = applyChanges(next.ruleset) {
            applied = changed
        } else {
            _ = readCounters(parts.clock())
            next = fresh.avoidingGeneration(of: lastSeenPolicy)
            do {
                applied = .replaced(carried: try parts.kernel.apply(next.ruleset))
                committedAt = monotonicMicros()
            } catch {
                inForce = nil
                throw .kernel("applying table inet \(next.ruleset.table.name) failed", error)
            }
            remember(next.ruleset)
        }
        lastApplyMicros = committedAt - started
        appliedPolicy = next.policyComment
        lastSeenPolicy = appliedPolicy
        follow(next)
        return applied
    }

    /// Sends only what turns the table in force into `ruleset`, when this station knows that
    /// table exactly (what the chains it flushes counted is stored first); nil when it does not,
    /// or the kernel refused the change (then the caller replaces the table, which also reports
    /// a refusal the policy itself causes).
    private func applyChanges(_ ruleset: Ruleset) -> Applied? {
        guard let base = inForce, let diff = RulesetDiff(from: base.ruleset, to: ruleset) else { return nil }
        do {
            guard try parts.kernel.instance() == base.instance else { return nil }
            guard !diff.isEmpty else {
                committedAt = monotonicMicros()  // nothing to send: in force as it stands
                return .changed(objects: 0)
            }
            let flushed = try parts.kernel.ruleCounters(chains: diff.flushedChains)
            guard try parts.kernel.applyChanges(diff, to: ruleset, expecting: base.instance) else { return nil }
            committedAt = monotonicMicros()
            // What the flushed rules counted up to the change is stored after it, off the path
            // to enforcement (at 1000 drones the reading holds some 14k values).
            let identity = parts.counterIdentity(base.instance.handle)
            let deltas = counters.deltas(fromChains: flushed, identity: identity)
            counters.rulesReplaced(flushed)
            parts.writer.recordKernelCounts(deltas, reading: counters.reading(identity: identity), atMicros: parts.clock())
        } catch {
            parts.log(.warning, "the change to table inet \(ruleset.table.name) was refused or could not be sent (\(error)); "
                      + "replacing the table")
            inForce = nil
            return nil
        }
        remember(ruleset)
        return .changed(objects: diff.size)
    }

    /// Notes that the kernel now holds `ruleset` exactly, in the table instance it reports.
    private func remember(_ ruleset: Ruleset) {
        do {
            inForce = try parts.kernel.instance().map { (ruleset, $0) }
        } catch {
            inForce = nil
            parts.log(.warning, "cannot read back the applied table (\(error)); the next apply replaces it whole")
        }
    }

    /// Deletes the table (only it); the resolver stops, since drones' DNS no longer comes to it.
    /// Returns whether there was a table.
    public func flush() throws(StationError) -> Bool {
        let existed: Bool
        do {
            existed = try parts.kernel.flush()
        } catch {
            throw .kernel("deleting table inet \(KernelLayout.tableName) failed", error)
        }
        guarding = false
        inForce = nil
        parts.log(.notice, existed ? "deleted table inet \(KernelLayout.tableName) as asked (dronewall flush); nothing is enforced"
                          : "dronewall flush: there was no table")
        return existed
    }

    /// Whether the table in force belongs to this daemon's socket.
    public var ownsTable: Bool { parts.kernel.ownsTable }

    /// The resolver and the attribution decide with `fresh`, which the kernel now holds.
    func follow(_ fresh: PolicySnapshot) {
        do {
            try resolver?.reload(fresh)
        } catch {
            parts.log(.error, "the resolver cannot follow the applied policy: \(error); it keeps the policy it has "
                      + "(restart dronewalld)")
        }
        snapshot = fresh
        let hostName = attribution.hostName
        attribution = Attribution(index: CatalogueIndex(fresh.catalogue), hostName: hostName)
        parts.log(.notice, "applied (\(fresh.policyComment.text)): \(fresh.config.drones.count) drone(s)"
                  + (resolver.map { ", resolving on ports \($0.ports.map(String.init).joined(separator: " "))" } ?? ""))
    }

    /// Reads what the kernel still holds (queued on the socket, or in its batch buffer until the
    /// NFLOG flush timeout of 50 ms: read without waiting until empty, then once more after that;
    /// 1 s at most), stops the resolver, writes everything and the counters at this moment.
    /// Returns what could not be written.
    public func stop(drainNFLOG: Bool = true) -> FlowWriter.Unwritten {
        if drainNFLOG {
            let deadline = parts.clock() + 1_000_000
            var timeout = 0
            while parts.clock() < deadline, let events = try? parts.nflog.read(timeoutMilliseconds: timeout) {
                fold(events, parts.clock())
                if events.isEmpty {
                    if timeout > 0 { break }
                    timeout = 100
                } else {
                    timeout = 0
                }
            }
        }
        if let r = resolver {
            parts.log(.info, r.stop())
            fold([], parts.clock())
            resolver = nil
        }
        let now = parts.clock()
        flush(now)
        _ = readCounters(now)
        saveHeldAddresses()
        return parts.writer.drain()
    }

    // MARK: the chores

    /// Folds logged packets, and the names the resolver sinkholed (or, for monitor drones, would
    /// have), into flows.
    func fold(_ events: [NflogEvent], _ now: Int64) {
        for e in events {
            if let b = attribution.event(e, receivedMicros: now) { aggregator.add(b) }
        }
        for b in resolver?.takeEvents() ?? [] { aggregator.add(b) }
    }

    /// Hands what was folded since the last flush, and the events lost since then, to the writer.
    func flush(_ now: Int64) {
        let s = parts.nflog.stats
        let lost = Int64((s.sequenceGaps - reported.sequenceGaps) + (s.malformed - reported.malformed))
        // Events that went with an overrun were lost at the overrun, though only seen missing now.
        let lostAt = s.sequenceGaps > reported.sequenceGaps ? s.gapOverrunMicros : nil
        let records = aggregator.take(nowMicros: now)
        for (level, line) in announcer.lines(for: records, now: now) { parts.log(level, line) }
        parts.writer.submit(records, lost: lost, overruns: Int64(s.enobufs - reported.enobufs),
                            atMicros: now, lossAtMicros: lostAt)
        reported = s
    }

    /// Reads the logging rules' counters (exact totals; logging itself is sampled) and queues
    /// the deltas. Returns the table as read (nil: there is none, or it could not be read).
    @discardableResult
    func readCounters(_ now: Int64) -> TableStatus?? {
        do {
            guard let status = try parts.kernel.tableStatus() else { return .some(nil) }
            lastSeenPolicy = status.policy
            let (deltas, reading) = counters.deltas(from: status, identity: parts.counterIdentity(status.handle))
            parts.writer.recordKernelCounts(deltas, reading: reading, atMicros: now)
            return status
        } catch {
            parts.log(.warning, "reading kernel counters failed: \(error)")
            return nil
        }
    }

    /// The class maps, as the table declares them.
    var heldSets: [NamedSet] {
        snapshot.ruleset.learnedSets.filter { $0.name == KernelLayout.learnedV4 || $0.name == KernelLayout.learnedV6 }
    }

    /// Writes what the class maps hold now to the state file (at stop, and every prune round, so
    /// a power cut loses at most a few minutes of it).
    func saveHeldAddresses() {
        guard let path = parts.heldAddressesPath else { return }
        do {
            var sets: [(set: String, elements: [KernelElement])] = []
            for set in heldSets { sets.append((set.name, try parts.kernel.elements(set: set.name) ?? [])) }
            let held = HeldAddresses(sets: sets, nowMilliseconds: parts.clock() / 1000)
            if let problem = HeldAddresses.write(held.text, to: path) { parts.log(.warning, problem) }
        } catch {
            parts.log(.warning, "cannot read the learned addresses to keep them: \(error)")
        }
    }

    /// Puts back what the state file holds and the kernel lost (a reboot, a flush), with the time
    /// each has left.
    func restoreHeldAddresses() {
        guard let path = parts.heldAddressesPath, let held = HeldAddresses.read(from: path) else { return }
        var changes: [ElementChange] = []
        var restored = 0
        do {
            for set in heldSets {
                let live = Set((try parts.kernel.elements(set: set.name) ?? []).map(\.key))
                let missing = held.remaining(at: parts.clock() / 1000).filter { $0.set == set.name && !live.contains($0.element.key) }
                let elements = missing.map { e in
                    SetElement(key: .network(IPNetwork(bytes: e.element.key, prefixLength: e.element.key.count * 8)),
                               data: e.element.data.map { d in .mark(d.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }) },
                               timeoutMilliseconds: e.element.timeoutMilliseconds, comment: e.element.comment)
                }
                if !elements.isEmpty { changes.append(.add(elements, to: set)) }
                restored += elements.count
            }
            try parts.kernel.change(changes, operation: "restore held addresses")
            if restored > 0 { parts.log(.info, "restored \(restored) held address(es) from \(path)") }
        } catch {
            parts.log(.warning, "cannot restore the held addresses from \(path): \(error)")
        }
    }

    /// Logs every commit of another program that touched the table or added a base chain (the
    /// kernel names the process); when the table was touched, or notifications were lost, looks
    /// at it at once rather than at the next counter reading.
    func watchForeignChanges(_ now: Int64) {
        guard let watch = parts.foreignChanges else { return }
        let (changes, lost) = watch()
        let touched = note(changes, lost: lost, now)
        guard guarding else { return }
        if touched {
            // Another program wrote our table (a kernel that cannot keep it owned): whatever it
            // changed, ours goes back, also when the comment still reads as ours.
            _ = readCounters(now)
            parts.log(.error, "table inet \(KernelLayout.tableName) was changed by another program; applying this daemon's policy again")
            do {
                try apply(snapshot)
            } catch {
                parts.log(.error, "cannot apply the table again: \(error)")
            }
            lastCounters = now
        } else if lost {
            guardTable(readCounters(now))
            lastCounters = now
        }
    }

    /// Takes the foreign changes seen so far without acting on them (an apply is under way):
    /// true when what the kernel holds is no longer known to be what this station applied.
    private func noteForeignChanges(_ now: Int64) -> Bool {
        guard let watch = parts.foreignChanges else { return false }
        let (changes, lost) = watch()
        _ = note(changes, lost: lost, now)
        return inForce == nil
    }

    /// Logs and counts foreign changes; true when one touched the table. That, or lost
    /// notifications where another program could have written the table, makes the table in
    /// force unknown. (Our own big batches overflow the notification socket: a table of 100k
    /// elements is 100k messages. An owned table takes no other writer, so nothing was missed.)
    private func note(_ changes: [ForeignChange], lost: Bool, _ now: Int64) -> Bool {
        for c in changes {
            foreignChangeCount += 1
            lastForeignChange = "\(isoTime(micros: now)) \(c)"
            parts.log(.warning, "foreign change by \(c)")
        }
        if lost { parts.log(.warning, "some nftables change notifications were lost; checking the table") }
        let touched = changes.contains(where: \.touchesOwnTable)
        if touched || (lost && !parts.kernel.ownsTable) { inForce = nil }
        return touched
    }

    /// The table is this daemon's alone. Where the kernel cannot keep it owned (before 6.9), or
    /// when no daemon ran, another program may delete or replace it: put ours back at once, and
    /// say so. (`read`: nil when the read failed, which proves nothing.)
    func guardTable(_ read: TableStatus??) {
        guard let status = read else { return }
        let named = status.flatMap(\.policy)
        guard status == nil || named != appliedPolicy else { return }
        inForce = nil
        parts.log(.error, status == nil
                  ? "table inet \(KernelLayout.tableName) is gone (deleted by another program); applying it again"
                  : "table inet \(KernelLayout.tableName) was replaced by another program (\(named?.text ?? "not dronewall's policy")); "
                    + "applying this daemon's policy again")
        do {
            try apply(snapshot)
        } catch {
            parts.log(.error, "cannot apply the table again: \(error)")
        }
    }
}

extension TableStatus {
    /// What the table names as applied.
    var policy: PolicyComment? {
        PolicyComment(chainComment: chainComments[KernelLayout.policyChain], tableComment: comment)
    }
}

/// Seconds as microseconds, saturating: the config caps durations, but a trap here would lose the log.
func saturatingMicros(seconds: Int64) -> Int64 {
    let (v, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
    return overflow ? (seconds < 0 ? .min : .max) : v
}

/// a - b, saturating (a cutoff before the epoch of Int64 just means "keep everything").
func saturatingDifference(_ a: Int64, _ b: Int64) -> Int64 {
    let (v, overflow) = a.subtractingReportingOverflow(b)
    return overflow ? (b > 0 ? .min : .max) : v
}
