import Classifier
import DronewallConfig
import DronewallPolicy
import FlowLog
import Netfilter
import NftModel
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The station's DNS resolver inside dronewalld: listeners on every drone's resolver port,
/// a learner writing answers' addresses into the kernel, and a queue of DNS flow records the
/// main loop folds into the flow log.
final class StationResolver: @unchecked Sendable {
    let learner: Learner
    let core: ResolverCore
    let server: ResolverServer
    let group: MultiThreadedEventLoopGroup
    var ports: [Int] { server.ports }
    let initialPorts: [Int]
    let upstreams: [String]
    private let queue = EventQueue()

    /// The learner first reads the elements the snapshot's learned sets carried over.
    init(_ snapshot: PolicySnapshot) throws {
        let policy = NamePolicy(snapshot)
        initialPorts = policy.askers.keys.sorted()
        let station = snapshot.config.station
        let upstreamHosts = station.dnsUpstream.isEmpty ? StationResolver.systemNameservers()
                                                        : station.dnsUpstream.map(\.value.description)
        upstreams = upstreamHosts
        let addresses = upstreamHosts.compactMap { try? SocketAddress(ipAddress: $0, port: 53) }
        guard !addresses.isEmpty else {
            throw ResolverSetupError("no upstream resolver: set [station] dns-upstream, or list a nameserver in /etc/resolv.conf")
        }
        learner = Learner(client: NftablesClient(transport: try KernelTransport()))
        learner.preload(snapshot.learnedSets)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let upstream = UDPUpstream(servers: addresses)
        let queue = self.queue
        core = ResolverCore(policy: policy, learner: learner, upstream: upstream, graceSeconds: station.dnsGraceSeconds,
                            sinkhole: station.dnsSinkhole, clock: { nowMicros() }, record: { queue.add($0) })
        server = ResolverServer(core: core, group: group)
    }

    func start() throws { try server.start(ports: initialPorts) }

    /// After an apply of a changed config: decide with it, listen on the ports of new drones,
    /// close those of removed ones, and read what the new table carried over.
    func reload(_ snapshot: PolicySnapshot) throws {
        let policy = NamePolicy(snapshot)
        let wanted = Set(policy.askers.keys)
        let current = Set(server.ports)
        try server.start(ports: wanted.subtracting(current).sorted())
        core.reload(policy)
        server.stop(ports: current.subtracting(wanted).sorted())
        learner.preload(snapshot.learnedSets)
    }

    /// Listeners first (no new queries), then the learner's queue (its completions hop onto the
    /// event loops), then the event loops.
    func stop() {
        server.stop()
        learner.waitUntilIdle()
        try? group.syncShutdownGracefully()
    }

    /// DNS flow records since the last call.
    func takeEvents() -> [BlockedEvent] { queue.take() }

    /// `nameserver` lines of /etc/resolv.conf (the station's own resolver configuration).
    static func systemNameservers(path: String = "/etc/resolv.conf") -> [String] {
        guard let f = fopen(path, "r") else { return [] }
        defer { fclose(f) }
        var out: [String] = []
        var line: UnsafeMutablePointer<CChar>?
        var cap = 0
        while getline(&line, &cap, f) > 0, let l = line {
            let words = String(cString: l).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            if words.count >= 2, words[0] == "nameserver" { out.append(String(words[1].split(separator: "%")[0])) }
        }
        free(line)
        return out
    }
}

/// DNS flow records from the resolver's threads to the main loop.
final class EventQueue: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var events: [BlockedEvent] = []  // guarded by `mutex`
    init() { pthread_mutex_init(&mutex, nil) }
    func add(_ e: BlockedEvent) {
        pthread_mutex_lock(&mutex)
        events.append(e)
        pthread_mutex_unlock(&mutex)
    }
    func take() -> [BlockedEvent] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let out = events
        events.removeAll(keepingCapacity: true)
        return out
    }
}

struct ResolverSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
