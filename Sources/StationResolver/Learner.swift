import Dispatch
import DronewallPolicy
import Netfilter
import NftModel
import KernelLayout
import NIOConcurrencyHelpers
import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Writes the addresses of answers into the kernel's learned sets before the answer goes out.
///
/// The requests an event loop makes in one turn go together into one batch (one netlink
/// transaction), committed by that loop at the end of the turn, so the answers they wait for go
/// out in the same turn: no thread hop between an answer and its element. Only when the table's
/// socket is busy (an apply is sending) does the batch go to the learner's own thread, which
/// waits for it, so the loop keeps forwarding meanwhile. Requests from outside an event loop
/// (`loop` nil) always go to that thread. An address already learned is replaced (delete + add
/// in the same batch): a fresh timeout, and the union of the categories of every name it was
/// learned for.
public final class Learner: @unchecked Sendable {
    /// One answer's addresses and where they go.
    public struct Request: Sendable {
        public var addresses: [IPNetwork]
        /// Class bits for the global learned maps (0: none).
        public var mask: UInt32
        /// The name they were learned for (kept as the element's comment).
        public var name: String
        public var timeoutMilliseconds: UInt64
        /// The floor for the class maps (`dns-hold`): a vendor chooses its TTL, so a refused
        /// name's addresses stay classified at least this long. Host sets keep the TTL.
        public var holdMilliseconds: UInt64
        /// Per-drone learned host sets (`drone_X_allow_dns_v4`, ...), by name without family.
        public var hostSets: [(drone: String, kind: KernelLayout.HostListKind)]
        /// Classes an address has on its own (a catalogue network, a public resolver's address):
        /// the learned value replaces the static one in the kernel, so it must carry them too.
        public var extraMasks: [IPNetwork: UInt32]

        public init(addresses: [IPNetwork], mask: UInt32, name: String, timeoutMilliseconds: UInt64,
                    holdMilliseconds: UInt64 = 0,
                    hostSets: [(drone: String, kind: KernelLayout.HostListKind)] = [],
                    extraMasks: [IPNetwork: UInt32] = [:]) {
            self.addresses = addresses
            self.mask = mask
            self.name = name
            self.timeoutMilliseconds = timeoutMilliseconds
            self.holdMilliseconds = holdMilliseconds
            self.hostSets = hostSets
            self.extraMasks = extraMasks
        }
    }

    public typealias Completion = @Sendable (Result<Void, NetlinkError>) -> Void

    /// What the kernel holds, as far as this learner knows (its own writes and their timeouts).
    struct Entry { var mask: UInt32; var expires: UInt64; var name: String }

    private let client: NftablesClient
    /// Told, after each batch, what flows accepted before it could not know (see `FlowReexaminer`).
    private let gained: (@Sendable (LearnedGains) -> Void)?
    /// Where a batch goes when its loop cannot commit it at once.
    private let queue = DispatchQueue(label: "dronewalld.learner")
    private let lock = NIOLock()
    // Guarded by `lock`.
    private var pending: [(Request, Completion)] = []
    private var scheduled = false
    // Addresses to names, for naming blocked flows; guarded by `lock`.
    private var names: [IPNetwork: (name: String, expires: UInt64)] = [:]
    /// Held while a batch is planned and committed (on a loop or on `queue`), and while the
    /// kernel's elements are read in: one writer at a time, in the order requests were taken.
    private let committing = Mutex(())
    // Guarded by `committing`.
    private var known: [String: [IPNetwork: Entry]] = [:]
    private var batchCount = 0
    private var elementCount = 0
    private var loopCommitCount = 0
    /// Kernel batches sent, and elements written, so far.
    public var batches: Int { committing.withLock { _ in batchCount } }
    public var learnedElements: Int { committing.withLock { _ in elementCount } }
    /// Of `batches`, those an event loop committed itself at the end of its turn.
    public var batchesOnLoops: Int { committing.withLock { _ in loopCommitCount } }

    /// `client` is bound to the table whose learned sets this learner fills.
    public init(client: NftablesClient, gained: (@Sendable (LearnedGains) -> Void)? = nil) {
        self.client = client
        self.gained = gained
    }

    /// Reads what the kernel already holds in `sets` (addresses carried over from before this
    /// learner started), so refreshing them replaces rather than collides. Call before `learn`.
    public func preload(_ sets: [NamedSet]) {
        let now = Learner.nowMilliseconds()
        committing.withLock { _ in
            for set in sets {
                guard let live = try? client.elements(set: set.name) else { continue }
                for e in live where e.key.count == 4 || e.key.count == 16 {
                    let mask = e.data.map { d in d.count == 4 ? d.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } : 0 } ?? 0
                    let a = IPNetwork(bytes: e.key, prefixLength: e.key.count * 8)
                    known[set.name, default: [:]][a] = Entry(mask: mask, expires: now + (e.expiresMilliseconds ?? 0),
                                                             name: e.comment ?? "")
                    if let c = e.comment {
                        lock.withLock { names[a] = (c, now + (e.expiresMilliseconds ?? 0)) }
                    }
                }
            }
        }
    }

    /// Queues `request`; `completion` runs once the batch holding it is committed, or failed:
    /// on `loop` at the end of its current turn when the table's socket is free then, else on
    /// the learner's thread.
    public func learn(_ request: Request, on loop: (any EventLoop)? = nil, completion: @escaping Completion) {
        lock.withLock {
            pending.append((request, completion))
            if !scheduled {
                scheduled = true
                // A task `execute`d from the loop runs after the I/O events of this turn: every
                // answer read in the turn has joined `pending` by then.
                if let loop { loop.execute { self.drainOnLoop() } } else { queue.async { self.drain() } }
            }
        }
    }

    /// Returns once every queued request has been written and its completion has run.
    public func waitUntilIdle() {
        while true {
            queue.sync {}
            if lock.withLock({ !scheduled && pending.isEmpty }) { return }
            usleep(500)  // a loop's end-of-turn commit is still to run
        }
    }

    /// The name an address was learned for, while it is learned.
    public func name(for address: IPNetwork) -> String? {
        let now = Learner.nowMilliseconds()
        return lock.withLock { names[address].flatMap { $0.expires > now ? $0.name : nil } }
    }

    /// On the learner's thread: commits until nothing is pending, waiting for the socket.
    private func drain() {
        while true {
            let work = take()
            if work.isEmpty { return }
            let result = committing.withLock { _ in commit(work.map(\.0)) }
            for (_, done) in work { done(result) }
        }
    }

    /// At the end of a loop's turn: one batch for what is pending, if neither another commit nor
    /// an apply holds what it needs; otherwise the learner's thread takes over, so the loop never
    /// waits for an apply.
    private func drainOnLoop() {
        let done: Bool? = client.transport.ifIdle { () -> Bool in
            committing.withLockIfAvailable { _ -> Bool in
                // Until nothing is pending: another loop's requests may join meanwhile.
                while true {
                    let work = take()
                    if work.isEmpty { return true }
                    loopCommitCount += 1
                    let result = commit(work.map(\.0))
                    for (_, done) in work { done(result) }
                }
            } ?? false
        }
        if done != true { queue.async { self.drain() } }
    }

    /// What is pending, and the end of the schedule when nothing is.
    private func take() -> [(Request, Completion)] {
        lock.withLock {
            let w = pending
            pending.removeAll()
            if w.isEmpty { scheduled = false }
            return w
        }
    }

    /// One batch for all requests; if the kernel refuses it (an element expired under us), each
    /// request is retried on its own with adds only. Call with `committing` held.
    private func commit(_ requests: [Request]) -> Result<Void, NetlinkError> {
        let now = Learner.nowMilliseconds()
        var plan = Plan()
        for r in requests { plan.add(r, now: now, known: &known) }
        // Also after a refused batch: re-examining a flow whose element then failed costs one
        // classification, missing one lets it keep sending.
        defer { if !plan.gains.isEmpty { gained?(plan.gains) } }
        do {
            try client.change(plan.changes(), operation: "update learned elements")
            batchCount += 1
            elementCount += plan.count
            remember(requests, now: now)
            return .success(())
        } catch {
            // What we believed about the kernel was wrong somewhere (an element expired, or one
            // was there that we did not know of): element by element, add, or replace if present.
            var lastError: NetlinkError?
            for r in requests {
                var single = Plan()
                single.add(r, now: now, known: &known, assumeAbsent: true)
                for change in single.changes() {
                    for element in change.elements {
                        do {
                            try replace(change.set, element)
                            elementCount += 1
                        } catch let e {
                            lastError = e
                            known[change.set.name]?[addressOf(element)] = nil
                        }
                    }
                }
            }
            batchCount += 1
            remember(requests, now: now)
            if let lastError { return .failure(lastError) }
            return .success(())
        }
    }

    /// One element: add; if the kernel has it (with another value), replace it with the union
    /// of both values and the longer timeout, in one batch.
    private func replace(_ set: NamedSet, _ element: SetElement) throws(NetlinkError) {
        do {
            try client.change([.add([element], to: set)], operation: "update learned elements")
        } catch where error.isAlreadyExists {
            var merged = element
            if let live = try? client.elements(set: set.name)?.first(where: {
                .network(IPNetwork(bytes: $0.key, prefixLength: $0.key.count * 8)) == element.key
            }) {
                if let d = live.data, d.count == 4, case let .mark(new)? = element.data {
                    let current = d.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                    merged.data = .mark(new | current)
                }
                merged.timeoutMilliseconds = max(element.timeoutMilliseconds ?? 0, live.expiresMilliseconds ?? 0)
            }
            try client.change([.delete(keys: [element.key], from: set), .add([merged], to: set)],
                              operation: "update learned elements")
            if case let .mark(m)? = merged.data, case let .network(a) = element.key {
                known[set.name, default: [:]][a]?.mask = m
            }
        }
    }

    private func addressOf(_ e: SetElement) -> IPNetwork {
        if case let .network(n) = e.key { return n }
        return IPNetwork(bytes: [0, 0, 0, 0], prefixLength: 32)
    }

    /// Forgets what has expired from the learner's view, now and then (`committing` held).
    private func pruneKnown(now: UInt64) {
        guard batchCount % 1000 == 0 else { return }
        for (set, entries) in known { known[set] = entries.filter { $0.value.expires > now } }
    }

    private func remember(_ requests: [Request], now: UInt64) {
        pruneKnown(now: now)
        lock.withLock {
            for r in requests {
                let lasts = r.mask != 0 ? max(r.timeoutMilliseconds, r.holdMilliseconds) : r.timeoutMilliseconds
                for a in r.addresses { names[a] = (r.name, now + lasts) }
            }
            if names.count > 100_000 { names = names.filter { $0.value.expires > now } }
        }
    }

    static func nowMilliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }

    /// The element changes of one batch, per set: deletes of what is replaced, then adds.
    struct Plan {
        var deletes: [String: (NamedSet, [SetElement])] = [:]
        var adds: [String: (NamedSet, [SetElement])] = [:]
        var order: [String] = []
        var count = 0
        var touchedSets: [String] { order }
        /// What this batch adds that the kernel's view did not have (computed against `known`).
        var gains = LearnedGains()

        mutating func add(_ r: Request, now: UInt64, known: inout [String: [IPNetwork: Entry]], assumeAbsent: Bool = false) {
            for a in r.addresses where a.isHost {
                if r.mask != 0 {
                    let set = Learner.learnedSet(ipv6: !a.isIPv4)
                    put(set, a, mask: r.mask, r, now: now, known: &known, assumeAbsent: assumeAbsent)
                }
                for h in r.hostSets {
                    let name = KernelLayout.hostSet(h.drone, h.kind, ipv6: !a.isIPv4, learned: true)
                    let set = NamedSet(name: name, keyType: a.isIPv4 ? .ipv4Address : .ipv6Address, flags: .timeout)
                    if h.kind == .block, known[name]?[a].map({ $0.expires <= now }) ?? true {
                        gains.blockedHosts.insert(a)
                    }
                    put(set, a, mask: nil, r, now: now, known: &known, assumeAbsent: assumeAbsent)
                }
            }
        }

        mutating func put(_ set: NamedSet, _ a: IPNetwork, mask: UInt32?, _ r: Request, now: UInt64,
                          known: inout [String: [IPNetwork: Entry]], assumeAbsent: Bool) {
            var timeout = mask == nil ? r.timeoutMilliseconds : max(r.timeoutMilliseconds, r.holdMilliseconds)
            var value = (mask ?? 0) | (mask == nil ? 0 : r.extraMasks[a] ?? 0)
            let live = known[set.name]?[a].flatMap { $0.expires > now ? $0 : nil }
            // Categories are only ever added: also when we no longer trust our view of the
            // kernel (assumeAbsent), what this learner wrote before stays in the value.
            if let prior = known[set.name]?[a] { value |= mask == nil ? 0 : prior.mask }
            // Flows accepted so far saw the live element's classes, or the static ones alone.
            if mask != nil, case let gain = value & ~(live?.mask ?? r.extraMasks[a] ?? 0), gain != 0 {
                gains.classes[a, default: 0] |= gain
            }
            if let live { timeout = max(timeout, live.expires - now) }
            let old = assumeAbsent ? nil : live
            // An element already queued in this batch: merge into it.
            if let i = adds[set.name]?.1.firstIndex(where: { $0.key == .network(a) }) {
                if case let .mark(m)? = adds[set.name]!.1[i].data { value |= m }
                timeout = max(timeout, adds[set.name]!.1[i].timeoutMilliseconds ?? 0)
                adds[set.name]!.1[i] = element(a, mask == nil ? nil : value, timeout, r.name)
            } else {
                // Deleted by key alone, as nft does: whatever value the kernel holds goes.
                if old != nil { Plan.append(&deletes, &order, set, SetElement(key: .network(a))) }
                Plan.append(&adds, &order, set, element(a, mask == nil ? nil : value, timeout, r.name))
                count += 1
            }
            known[set.name, default: [:]][a] = Entry(mask: value, expires: now + timeout, name: r.name)
        }

        func element(_ a: IPNetwork, _ value: UInt32?, _ timeout: UInt64, _ name: String) -> SetElement {
            SetElement(key: .network(a), data: value.map { .mark($0) }, timeoutMilliseconds: timeout, comment: name)
        }

        static func append(_ into: inout [String: (NamedSet, [SetElement])], _ order: inout [String], _ set: NamedSet,
                           _ e: SetElement) {
            if into[set.name] == nil {
                into[set.name] = (set, [])
                if !order.contains(set.name) { order.append(set.name) }
            }
            into[set.name]!.1.append(e)
        }

        func changes() -> [ElementChange] {
            order.compactMap { deletes[$0].map { ElementChange.delete(keys: $0.1.map(\.key), from: $0.0) } }
                + order.compactMap { adds[$0].map { ElementChange.add($0.1, to: $0.0) } }
        }
    }

    static func learnedSet(ipv6: Bool) -> NamedSet {
        NamedSet(name: ipv6 ? KernelLayout.learnedV6 : KernelLayout.learnedV4, keyType: ipv6 ? .ipv6Address : .ipv4Address,
                 dataType: .mark, flags: .timeout)
    }
}
