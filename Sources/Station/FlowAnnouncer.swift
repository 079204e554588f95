import DronewallConfig
import FlowLog
import KernelLayout

/// One log line (the journal, so syslog forwarding and a SIEM see it) for each new blocked or
/// would-block flow: the first time in a flow window that a drone tries a destination for a
/// reason. A journal takes a few lines a second; a drone retrying thousands of destinations must
/// not flood it, so at most `perMinute` lines go out a minute, and what was held back is said in
/// one line. The flow log keeps everything.
struct FlowAnnouncer {
    let perMinute: Int
    private var announced: Set<FlowKey> = []
    private var tokens: Double
    private var lastRefill: Int64?
    private var heldBack = 0
    /// No key in `announced` is of an older window.
    private var oldestWindow = Int64.max

    init(perMinute: Int = 60) {
        self.perMinute = perMinute
        tokens = Double(perMinute)
    }

    /// Flow keys kept to tell new flows from known ones.
    var remembered: Int { announced.count }

    /// Lines for what `records` brought that was not announced yet, at `now` (microseconds).
    mutating func lines(for records: [FlowRecord], now: Int64) -> [(LogLevel, String)] {
        if let last = lastRefill {
            tokens = min(Double(perMinute), tokens + Double(now - last) / 60_000_000 * Double(perMinute))
        }
        lastRefill = now
        var out: [(LogLevel, String)] = []
        for r in records where announced.insert(r.key).inserted {
            guard tokens >= 1 else {
                heldBack += 1
                continue
            }
            tokens -= 1
            out.append((r.key.verdict == .blocked ? .notice : .info, FlowAnnouncer.text(r)))
        }
        if heldBack > 0, tokens >= 1 {
            tokens -= 1
            out.append((.notice, "\(heldBack) more new flow(s) not logged here, to spare the journal (dronewall log shows them)"))
            heldBack = 0
        }
        // Keys of windows that closed cannot come again. Only when one closed: rebuilding the set
        // of a flood's current window every second cost more than announcing.
        for r in records { oldestWindow = min(oldestWindow, r.key.windowStart) }
        if announced.count > 10_000, let newest = records.map(\.key.windowStart).max(), oldestWindow < newest {
            announced = announced.filter { $0.windowStart >= newest }
            oldestWindow = newest
        }
        return out
    }

    /// `blocked: drone alpha, dji geofence, tcp 198.51.100.110:443 (flysafe-api.dji.com)`
    static func text(_ r: FlowRecord) -> String {
        let k = r.key
        let port = k.port > 0 ? ":\(k.port)" : ""
        let destination = k.destination.contains(":") && !port.isEmpty ? "[\(k.destination)]\(port)" : k.destination + port
        return "\(k.verdict.rawValue): drone \(k.drone), \(r.vendor.map { "\($0) " } ?? "")\(k.reason.word), "
            + "\(k.proto) \(destination)" + (r.host.map { " (\($0))" } ?? "")
    }
}
