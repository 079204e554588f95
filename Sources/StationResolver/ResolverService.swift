import DronewallConfig
import DronewallPolicy
import FlowLog
import KernelLayout
import Netfilter
import NftModel
import NetAddress
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// What the station needs of its DNS resolver; `ResolverService` is the real one, tests fake it.
public protocol StationResolving: AnyObject {
    /// The ports it listens on (one per subject).
    var ports: [Int] { get }
    /// Where it forwards, for the log.
    var upstreams: [String] { get }
    /// The name an address was learned for, if any (flow records name their destination).
    func hostName(for address: IPNetwork) -> String?
    /// DNS flow records (sinkholed or would-block names) since the last call.
    func takeEvents() -> [BlockedEvent]
    /// Decide with a re-applied policy: new subjects' ports open, removed ones close.
    func reload(_ snapshot: PolicySnapshot) throws
    /// Stops listening and waits for pending learning; returns a summary line for the log.
    func stop() -> String
}

/// The station's DNS resolver inside dronewalld: listeners on every drone's resolver port,
/// a learner writing answers' addresses into the kernel, and a queue of DNS flow records the
/// main loop folds into the flow log.
public final class ResolverService: StationResolving, @unchecked Sendable {
    let learner: Learner
    let reexaminer: FlowReexaminer
    let core: ResolverCore
    let server: ResolverServer
    let group: MultiThreadedEventLoopGroup
    public var ports: [Int] { server.ports }
    let initialPorts: [Int]
    public let upstreams: [String]
    private let queue = EventQueue()

    /// The learner first reads the elements the snapshot's learned sets carried over.
    /// Nil when no subject has a resolver port (the resolver is off, or there is no one to serve).
    /// `tableWriter`: the socket that owns the table (only it may add learned elements); nil
    /// opens one of its own, for a table nobody owns.
    public static func start(_ snapshot: PolicySnapshot, tableWriter: NetlinkTransport? = nil,
                             clock: @escaping @Sendable () -> Int64) throws -> ResolverService? {
        let service = try ResolverService(snapshot, tableWriter: tableWriter, clock: clock)
        guard !service.initialPorts.isEmpty else { return nil }
        try service.server.start(ports: service.initialPorts)
        return service
    }

    init(_ snapshot: PolicySnapshot, tableWriter: NetlinkTransport?, clock: @escaping @Sendable () -> Int64) throws {
        let policy = NamePolicy(snapshot)
        initialPorts = policy.askers.keys.sorted()
        let station = snapshot.config.station
        let upstreamHosts = station.dnsUpstream.isEmpty ? ResolverService.systemNameservers()
                                                        : station.dnsUpstream.map(\.value.description)
        upstreams = upstreamHosts
        let addresses = upstreamHosts.compactMap { try? SocketAddress(ipAddress: $0, port: 53) }
        guard !addresses.isEmpty else {
            throw ResolverSetupError("no upstream resolver: set [station] dns-upstream, or list a nameserver in /etc/resolv.conf")
        }
        let reexaminer = FlowReexaminer(conntrack: ConntrackClient(transport: try KernelTransport()),
                                        generation: snapshot.generation)
        self.reexaminer = reexaminer
        // Its own sequence numbers, far from the main loop's on the shared socket.
        learner = Learner(client: NftablesClient(transport: try tableWriter ?? KernelTransport(), table: KernelLayout.tableName,
                                                 firstSequence: 1 << 31),
                          gained: { reexaminer.review($0) })
        learner.preload(snapshot.learnedSets)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let upstream = UDPUpstream(servers: addresses)
        let queue = self.queue
        core = ResolverCore(policy: policy, learner: learner, upstream: upstream, tcpUpstream: TCPUpstream(),
                            graceSeconds: station.dnsGraceSeconds,
                            holdSeconds: station.dnsHoldSeconds, sinkhole: station.dnsSinkhole, clock: clock, record: { queue.add($0) })
        server = ResolverServer(core: core, group: group)
    }

    /// After an apply of a changed config: decide with it, listen on the ports of new drones,
    /// close those of removed ones, and read what the new table carried over.
    public func reload(_ snapshot: PolicySnapshot) throws {
        let policy = NamePolicy(snapshot)
        let wanted = Set(policy.askers.keys)
        let current = Set(server.ports)
        try server.start(ports: wanted.subtracting(current).sorted())
        core.reload(policy)
        reexaminer.follow(generation: snapshot.generation)
        server.stop(ports: current.subtracting(wanted).sorted())
        learner.preload(snapshot.learnedSets)
    }

    /// Listeners first (no new queries), then the learner's queue (its completions hop onto the
    /// event loops), then the event loops.
    public func stop() -> String {
        server.stop()
        learner.waitUntilIdle()
        reexaminer.waitUntilIdle()
        try? group.syncShutdownGracefully()
        let s = core.stats.snapshot
        let failed = reexaminer.failures
        return "resolver: \(s.queries) queries, \(s.answered) answered, \(s.sinkholed) sinkholed, "
            + "\(s.answeredLocally) answered without asking upstream, \(s.learnedAnswers) answers "
            + "learned in \(learner.batches) batches; dropped as malformed: \(s.malformedQueries) queries, "
            + "\(s.malformedAnswers) answers; \(s.retriedOverTCP) truncated answers asked again over TCP, "
            + "\(s.truncatedForUDP) too large for their UDP client (sent as TC); \(s.upstreamFailures) upstream failures, "
            + "\(s.learnFailures) learning failures; \(reexaminer.reexamined) accepted flows re-examined after learning"
            + (failed.count > 0 ? " (\(failed.count) passes failed, last: \(failed.last.map { "\($0)" } ?? "?"))" : "")
    }

    public func takeEvents() -> [BlockedEvent] { queue.take() }

    public func hostName(for address: IPNetwork) -> String? { learner.name(for: address) }

    /// `nameserver` lines of /etc/resolv.conf (the station's own resolver configuration).
    static func systemNameservers(path: String = ResolvConf.defaultPath) -> [String] {
        guard case let .success(bytes) = DiskReader().read(path) else { return [] }
        return ResolvConf.nameservers(in: bytes)
    }
}

/// DNS flow records from the resolver's threads to the main loop.
final class EventQueue: Sendable {
    private let events = NIOLockedValueBox<[BlockedEvent]>([])
    func add(_ e: BlockedEvent) { events.withLockedValue { $0.append(e) } }
    func take() -> [BlockedEvent] {
        events.withLockedValue { e in
            defer { e.removeAll(keepingCapacity: true) }
            return e
        }
    }
}

struct ResolverSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
