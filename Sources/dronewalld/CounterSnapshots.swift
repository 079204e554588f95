import DronewallPolicy
import FlowLog
import Netfilter

/// Reads the counters of dronewall's logging rules and turns them into deltas since the last
/// reading. A counter below its last value means the table was replaced (re-apply): the new
/// value is then all delta.
struct CounterSnapshots {
    private var last: [Key: (packets: UInt64, bytes: UInt64)] = [:]

    struct Key: Hashable { var drone: String, category: String, verdict: FlowVerdict }

    mutating func deltas(from status: TableStatus) -> [FlowStore.KernelCount] {
        var now: [Key: (packets: UInt64, bytes: UInt64)] = [:]
        for chain in status.chains {
            for rule in chain.rules {
                guard let p = rule.logPrefix, let (drone, category, verdict) = KernelLayout.parseLogPrefix(p),
                      let packets = rule.packets else { continue }
                let key = Key(drone: drone, category: category, verdict: verdict == .wouldBlock ? .wouldBlock : .blocked)
                let v = now[key] ?? (0, 0)
                now[key] = (v.packets + packets, v.bytes + (rule.bytes ?? 0))
            }
        }
        var out: [FlowStore.KernelCount] = []
        for (key, cur) in now {
            let prev = last[key] ?? (0, 0)
            let reset = cur.packets < prev.packets
            let dp = reset ? cur.packets : cur.packets - prev.packets
            let db = reset ? cur.bytes : cur.bytes &- prev.bytes
            if dp > 0 {
                out.append(FlowStore.KernelCount(drone: key.drone, category: key.category, verdict: key.verdict,
                                                 packets: Int64(dp), bytes: Int64(db)))
            }
        }
        last = now
        return out
    }
}
