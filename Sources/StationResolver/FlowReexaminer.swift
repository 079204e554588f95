import Dispatch
import KernelLayout
import NetAddress
import Netfilter
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// What a learn batch told the kernel that flows already accepted did not know: addresses whose
/// classes grew, and addresses new in some drone's `block-host` set.
public struct LearnedGains: Sendable, Equatable {
    /// Address -> the class bits it gained.
    public var classes: [IPNetwork: UInt32] = [:]
    /// Addresses a drone's learned block-host set did not hold before.
    public var blockedHosts: Set<IPNetwork> = []

    public init(classes: [IPNetwork: UInt32] = [:], blockedHosts: Set<IPNetwork> = []) {
        self.classes = classes
        self.blockedHosts = blockedHosts
    }

    public var isEmpty: Bool { classes.isEmpty && blockedHosts.isEmpty }

    public mutating func merge(_ other: LearnedGains) {
        classes.merge(other.classes) { $0 | $1 }
        blockedHosts.formUnion(other.blockedHosts)
    }

    /// Whether `flow` was accepted without what its destination is now known to be: its mark
    /// (the classes it was accepted with) lacks a gained class, or its destination became a
    /// blocked host. The flow's own drone chain decides what that means for it.
    public func selects(_ flow: ConntrackFlow) -> Bool {
        guard let destination = flow.destination else { return false }
        if blockedHosts.contains(destination) { return true }
        guard let gained = classes[destination] else { return false }
        return flow.mark & gained != gained
    }
}

/// Sends flows the fast path accepted back through their drone's chain once learning changed
/// what their destination is (issue: a stream opened before a vendor address was learned kept
/// sending after). Each selected conntrack entry loses the table's generation from its mark, so
/// its next packet is classified again: a drone whose policy blocks the new classes is cut off
/// (and the drop is logged); one whose policy allows them is accepted again, its NAT and TCP
/// state untouched.
///
/// Gains arriving while a pass runs or waits go together into the next one: one conntrack dump,
/// filtered by the kernel to this table's generation, per pass. A pass walks the kernel's whole
/// conntrack hash table, taking each bucket's lock (ctnetlink_dump_table), whatever the filter:
/// about 0.7 ms on a 2-core test machine with an idle table, and more with many flows. Run once
/// per learn batch, that was half of dronewalld's CPU under 64 queries in flight (`perf`,
/// bench/dns-learning.sh). So passes are paced (`PassPacing`): the first after a quiet spell runs
/// at once, the next no sooner than `minimumGap` after it.
public final class FlowReexaminer: @unchecked Sendable {
    private let conntrack: ConntrackClient
    private let queue = DispatchQueue(label: "dronewalld.reexaminer")
    private let lock = NIOLock()
    // Guarded by `lock`.
    private var pending = LearnedGains()
    private var scheduled = false
    private var generation: UInt32
    private var pacing: PassPacing
    // Touched only on `queue`.
    private var reexaminedCount = 0
    private var lastError: NetlinkError?
    private var failureCount = 0

    /// The least time between the end of one pass and the start of the next.
    public static let minimumGap = Duration.milliseconds(100)

    /// `generation`: the table's, as its fast path matches it in the upper bits of the mark.
    public init(conntrack: ConntrackClient, generation: UInt32, minimumGap: Duration = FlowReexaminer.minimumGap) {
        self.conntrack = conntrack
        self.generation = generation & KernelLayout.generationMask
        self.pacing = PassPacing(minimumGap: minimumGap)
    }

    /// After an apply: flows of the old generation take the slow path anyway.
    public func follow(generation g: UInt32) { lock.withLock { generation = g & KernelLayout.generationMask } }

    /// Flows sent back so far, and passes that failed (with the last reason).
    public var reexamined: Int { queue.sync { reexaminedCount } }
    public var failures: (count: Int, last: NetlinkError?) { queue.sync { (failureCount, lastError) } }

    /// Queues `gains`; a pass runs on the re-examiner's own thread, at once or when pacing allows.
    public func review(_ gains: LearnedGains) {
        guard !gains.isEmpty else { return }
        lock.withLock {
            pending.merge(gains)
            if !scheduled {
                scheduled = true
                schedule(after: pacing.delay(now: FlowReexaminer.now()))
            }
        }
    }

    /// Returns once every queued review has run (a paced pass is waited for).
    public func waitUntilIdle() {
        while true {
            queue.sync {}
            if lock.withLock({ !scheduled }) { return }
            usleep(1000)  // a paced pass is not on the queue yet
        }
    }

    /// On `queue` after `nanoseconds`; call with `lock` held.
    private func schedule(after nanoseconds: UInt64) {
        if nanoseconds == 0 {
            queue.async { self.drain() }
        } else {
            queue.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds))) { self.drain() }
        }
    }

    private func drain() {
        let (gains, g): (LearnedGains, UInt32) = lock.withLock {
            defer { pending = LearnedGains() }
            return (pending, generation)
        }
        if !gains.isEmpty {
            let start = FlowReexaminer.now()
            pass(gains, generation: g)
            let end = FlowReexaminer.now()
            lock.withLock { pacing.passRan(from: start, to: end) }
        }
        lock.withLock {
            if pending.isEmpty {
                scheduled = false
            } else {
                schedule(after: pacing.delay(now: FlowReexaminer.now()))
            }
        }
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    private func pass(_ gains: LearnedGains, generation g: UInt32) {
        do throws(NetlinkError) {
            for flow in try conntrack.flows(markValue: g, mask: KernelLayout.generationMask) where gains.selects(flow) {
                if try conntrack.setMark(flow.mark & ~KernelLayout.generationMask, of: flow) { reexaminedCount += 1 }
            }
        } catch {
            failureCount += 1
            lastError = error
        }
    }
}

/// When the next conntrack pass may start: at once when none ran lately; otherwise no sooner
/// than `minimumGap`, and nine times the last pass's own duration, after it ended. A pass then
/// takes at most a tenth of a core, however large the conntrack table grows.
struct PassPacing {
    var minimumGap: UInt64
    /// Nanoseconds of gap per nanosecond of pass.
    var gapPerPassTime: UInt64 = 9
    /// No pass before this (monotonic nanoseconds).
    private(set) var earliest: UInt64 = 0

    init(minimumGap: Duration) {
        let (s, a) = minimumGap.components
        self.minimumGap = UInt64(max(0, s)) * 1_000_000_000 + UInt64(max(0, a / 1_000_000_000))
    }

    /// How long a pass wanted at `now` waits.
    func delay(now: UInt64) -> UInt64 { earliest > now ? earliest - now : 0 }

    mutating func passRan(from start: UInt64, to end: UInt64) {
        let took = end >= start ? end - start : 0
        earliest = end + max(minimumGap, took.multipliedReportingOverflow(by: gapPerPassTime).partialValue)
    }
}
