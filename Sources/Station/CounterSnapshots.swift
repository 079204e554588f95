import DronewallPolicy
import FlowLog
import Netfilter
import KernelLayout

/// Reads the counters of dronewall's logging rules and turns them into deltas since the last
/// stored reading. Readings are tied to one table instance (boot, network namespace, table
/// handle): a re-applied table starts from zero, so its counters are all delta; the same
/// instance read after a restart gives what was blocked while no daemon ran.
public struct CounterSnapshots {
    private var identity: String?
    private var last: [Key: (packets: UInt64, bytes: UInt64)] = [:]

    struct Key: Hashable { var drone: String, category: String, verdict: FlowVerdict }

    /// Continues from the reading the log's stored deltas add up to (nil: nothing stored yet).
    public init(resuming reading: FlowStore.CounterReading?) {
        guard let reading else { return }
        identity = reading.identity
        for v in reading.values {
            last[Key(drone: v.drone, category: v.category, verdict: v.verdict)] =
                (UInt64(clamping: v.packets), UInt64(clamping: v.bytes))
        }
    }

    /// The rules of `chains` were replaced (an incremental apply flushed them), right after
    /// they were read (`deltas(fromChains:)`): their new rules count from zero. Every logging
    /// rule of a drone is in that drone's chain, so the keys read there start from zero too.
    public mutating func rulesReplaced(_ chains: [ChainStatus]) {
        for key in keys(in: chains) { last[key] = (0, 0) }
    }

    /// The deltas of the keys counted in `chains` alone (a drone's logging rules are all in its
    /// chain, so its keys are complete), and the new reading of every key to store with them.
    public mutating func deltas(fromChains chains: [ChainStatus], identity: String) -> [FlowStore.KernelCount] {
        var now = last
        if identity != self.identity { now = [:] }
        for key in keys(in: chains) { now[key] = nil }
        for (key, v) in sums(chains) { now[key] = v }
        return deltas(to: now, identity: identity)
    }

    private func keys(in chains: [ChainStatus]) -> Set<Key> { Set(sums(chains).keys) }

    /// Packets and bytes of the logging rules of `chains`, by drone, category and verdict.
    private func sums(_ chains: [ChainStatus]) -> [Key: (packets: UInt64, bytes: UInt64)] {
        var now: [Key: (packets: UInt64, bytes: UInt64)] = [:]
        for chain in chains {
            for rule in chain.rules {
                guard let text = rule.logPrefix, let p = LogPrefix(parsing: text), let packets = rule.packets else { continue }
                let key = Key(drone: p.drone, category: p.reason.word, verdict: p.verdict)
                let v = now[key] ?? (0, 0)
                now[key] = (v.packets &+ packets, v.bytes &+ (rule.bytes ?? 0))
            }
        }
        return now
    }

    /// The deltas since the last reading, and the new reading to store with them.
    public mutating func deltas(from status: TableStatus, identity: String) -> ([FlowStore.KernelCount], FlowStore.CounterReading) {
        (deltas(to: sums(status.chains), identity: identity), reading(identity: identity))
    }

    private mutating func deltas(to now: [Key: (packets: UInt64, bytes: UInt64)], identity: String) -> [FlowStore.KernelCount] {
        if identity != self.identity { last = [:] } // another table instance: its counters started at zero
        var out: [FlowStore.KernelCount] = []
        for (key, cur) in now {
            let prev = last[key] ?? (0, 0)
            // Lower than before within one instance: counters were reset (`nft reset counters`).
            let reset = cur.packets < prev.packets
            let dp = reset ? cur.packets : cur.packets - prev.packets
            let db = reset ? cur.bytes : cur.bytes &- prev.bytes
            if dp > 0 {
                out.append(FlowStore.KernelCount(drone: key.drone, category: key.category, verdict: key.verdict,
                                                 packets: Int64(clamping: dp), bytes: Int64(clamping: db)))
            }
        }
        last = now
        self.identity = identity
        return out
    }

    /// The totals the stored deltas add up to, to store with them.
    public func reading(identity: String) -> FlowStore.CounterReading {
        FlowStore.CounterReading(identity: identity, values: last.map { key, v in
            FlowStore.KernelCount(drone: key.drone, category: key.category, verdict: key.verdict,
                                  packets: Int64(clamping: v.packets), bytes: Int64(clamping: v.bytes))
        })
    }
}
