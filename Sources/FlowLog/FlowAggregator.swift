/// Folds events into flow records, in memory, until the writer takes them.
///
/// `take()` returns what changed since the last take (as deltas) and forgets windows that
/// have closed, so memory stays bounded by the flows of the current window.
public struct FlowAggregator: Sendable {
    /// Length of a flow window (default one minute).
    public let windowMicros: Int64
    private var pending: [FlowKey: FlowRecord] = [:]
    /// Source ports seen per flow (window left out) with the time last seen, so a retry from the same
    /// port is not a new attempt, also when it crosses a window boundary: the attempt counts only in
    /// the window of its first packet.
    private var portsSeen: [AttemptKey: Int64] = [:]
    /// How long a source port stays "seen" after its last packet: longer than TCP's SYN retries
    /// (1+2+...+64 s) take to give up.
    public static let attemptMemoryMicros: Int64 = 150_000_000
    public private(set) var eventsFolded: Int = 0
    /// No time in `portsSeen` is older than this.
    private var oldestSeen = Int64.max
    private var lastSweep: Int64?
    /// How often at most forgotten source ports are swept out of memory.
    public static let sweepMicros: Int64 = 10_000_000

    struct AttemptKey: Hashable {
        var flow: FlowKey
        var sourcePort: UInt16
    }

    public init(windowSeconds: Int = 60) {
        self.windowMicros = Int64(max(1, windowSeconds)) * 1_000_000
    }

    public var pendingCount: Int { pending.count }
    /// Source ports remembered (seen within `attemptMemoryMicros`, or not swept yet).
    public var rememberedPorts: Int { portsSeen.count }

    public mutating func add(_ e: BlockedEvent) {
        eventsFolded += 1
        let window = e.timeMicros - (e.timeMicros % windowMicros + windowMicros) % windowMicros
        let key = FlowKey(drone: e.drone, reason: e.reason, verdict: e.verdict, proto: e.proto,
                          source: e.source, destination: e.destination, port: Int(e.port ?? 0), windowStart: window)
        var isNewAttempt = true
        if let sp = e.sourcePort {
            var flow = key
            flow.windowStart = 0
            // One lookup (each hashes the key's strings): read and update in place.
            isNewAttempt = Self.see(&portsSeen[AttemptKey(flow: flow, sourcePort: sp), default: Self.never], at: e.timeMicros)
            oldestSeen = min(oldestSeen, e.timeMicros)
        }
        // A new flow starts from the event's own facts; then it is counted like any other.
        Self.count(e, isNewAttempt: isNewAttempt,
                   into: &pending[key, default: FlowRecord(key: key, vendor: e.vendor, host: e.host, firstSeen: e.timeMicros,
                                                           lastSeen: e.timeMicros, packets: 0, bytes: 0, attempts: 0)])
    }

    /// A source port not seen yet.
    private static let never = Int64.min

    /// Whether a packet at `time` from a port last seen at `last` starts an attempt; notes it.
    private static func see(_ last: inout Int64, at time: Int64) -> Bool {
        let isNew = last == never || time - last >= attemptMemoryMicros
        last = max(last, time)
        return isNew
    }

    private static func count(_ e: BlockedEvent, isNewAttempt: Bool, into r: inout FlowRecord) {
        r.firstSeen = min(r.firstSeen, e.timeMicros)
        r.lastSeen = max(r.lastSeen, e.timeMicros)
        r.packets += 1
        r.bytes += Int64(e.length)
        r.attempts += isNewAttempt ? 1 : 0
        if r.host == nil { r.host = e.host }
        if r.vendor == nil { r.vendor = e.vendor }
    }

    /// What changed since the last call, as deltas; source ports not seen for a while are
    /// forgotten afterwards.
    public mutating func take(nowMicros: Int64) -> [FlowRecord] {
        let out = pending.values.sorted { ($0.firstSeen, $0.key.drone) < ($1.firstSeen, $1.key.drone) }
        pending.removeAll(keepingCapacity: true)
        // `add` tells an expired port by its time, so forgetting is only for memory: sweep when
        // the oldest port may have expired, at most every `sweepMicros` (rebuilding the table
        // every second cost a flood of distinct flows more than folding them).
        if oldestSeen != .max, nowMicros - oldestSeen >= FlowAggregator.attemptMemoryMicros,
           lastSweep.map({ nowMicros - $0 >= FlowAggregator.sweepMicros }) ?? true {
            portsSeen = portsSeen.filter { nowMicros - $0.value < FlowAggregator.attemptMemoryMicros }
            oldestSeen = portsSeen.values.min() ?? .max
            lastSweep = nowMicros
        }
        return out
    }
}
