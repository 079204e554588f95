import Dispatch
import KernelLayout
import NetAddress
import Netfilter
import NIOConcurrencyHelpers

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
/// Gains arriving while a pass runs go together into the next one: one conntrack dump, filtered
/// by the kernel to this table's generation, per pass.
public final class FlowReexaminer: @unchecked Sendable {
    private let conntrack: ConntrackClient
    private let queue = DispatchQueue(label: "dronewalld.reexaminer")
    private let lock = NIOLock()
    // Guarded by `lock`.
    private var pending = LearnedGains()
    private var scheduled = false
    private var generation: UInt32
    // Touched only on `queue`.
    private var reexaminedCount = 0
    private var lastError: NetlinkError?
    private var failureCount = 0

    /// `generation`: the table's, as its fast path matches it in the upper bits of the mark.
    public init(conntrack: ConntrackClient, generation: UInt32) {
        self.conntrack = conntrack
        self.generation = generation & KernelLayout.generationMask
    }

    /// After an apply: flows of the old generation take the slow path anyway.
    public func follow(generation g: UInt32) { lock.withLock { generation = g & KernelLayout.generationMask } }

    /// Flows sent back so far, and passes that failed (with the last reason).
    public var reexamined: Int { queue.sync { reexaminedCount } }
    public var failures: (count: Int, last: NetlinkError?) { queue.sync { (failureCount, lastError) } }

    /// Queues `gains`; a pass runs soon on the re-examiner's own thread.
    public func review(_ gains: LearnedGains) {
        guard !gains.isEmpty else { return }
        lock.withLock {
            pending.merge(gains)
            if !scheduled {
                scheduled = true
                queue.async { self.drain() }
            }
        }
    }

    /// Returns once every queued review has run.
    public func waitUntilIdle() {
        while true {
            queue.sync {}
            if lock.withLock({ !scheduled }) { return }
        }
    }

    private func drain() {
        while true {
            let (gains, g): (LearnedGains, UInt32) = lock.withLock {
                let work = pending
                pending = LearnedGains()
                if work.isEmpty { scheduled = false }
                return (work, generation)
            }
            if gains.isEmpty { return }
            pass(gains, generation: g)
        }
    }

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
