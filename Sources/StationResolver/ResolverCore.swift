import NetAddress
import DNSWire
import DronewallConfig
import DronewallPolicy
import FlowLog
import NIOCore
import KernelLayout
import NIOConcurrencyHelpers

/// Where learned addresses go (the kernel, through `Learner`; a fake in tests).
public protocol AddressLearning: Sendable {
    /// `loop`: the event loop asking, which may commit at the end of its turn (nil: not on one).
    func learn(_ request: Learner.Request, on loop: (any EventLoop)?, completion: @escaping Learner.Completion)
}
extension Learner: AddressLearning {}

/// Counters the daemon logs and the tests check: nothing malformed is ever silently dropped.
public final class ResolverStats: @unchecked Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var queries = 0, answered = 0, sinkholed = 0, malformedQueries = 0, malformedAnswers = 0
        public var upstreamFailures = 0, learnFailures = 0, learnedAnswers = 0, refusedBusy = 0
        /// Upstream answers truncated over UDP and asked again over TCP.
        public var retriedOverTCP = 0
        /// Answers too large for the asking UDP client, sent as TC (no records) instead.
        public var truncatedForUDP = 0
        /// Answered by the station without asking upstream (isolate, allowlist's unlisted names).
        public var answeredLocally = 0
    }
    private let lock = NIOLock()
    private var s = Snapshot()
    func count(_ change: (inout Snapshot) -> Void) { lock.withLock { change(&s) } }
    public var snapshot: Snapshot { lock.withLock { s } }
}

/// Who asked: the resolver port (which names the drone) and the client's address.
public struct DNSClient: Sendable {
    public var port: Int
    public var address: String
    public var sourcePort: UInt16
    public var local: String
    public var tcp: Bool
    public init(port: Int, address: String, sourcePort: UInt16, local: String, tcp: Bool) {
        self.port = port
        self.address = address
        self.sourcePort = sourcePort
        self.local = local
        self.tcp = tcp
    }
}

/// The station resolver's pipeline for one query, independent of sockets:
/// parse → forward → read the answer's chain → decide for the asking drone → learn the
/// addresses (kernel batch committed) → answer, or sinkhole and record the attempt.
public final class ResolverCore: @unchecked Sendable {
    private let policyLock = NIOLock()
    nonisolated(unsafe) private var currentPolicy: NamePolicy  // guarded by `policyLock`
    /// The policy queries are decided with; `reload` swaps it for queries that start after.
    public var policy: NamePolicy { policyLock.withLock { currentPolicy } }
    /// Queries being answered now, and the most allowed at once (beyond it: REFUSED).
    private let inFlight = NIOLock()
    nonisolated(unsafe) private var inFlightCount = 0  // guarded by `inFlight`
    nonisolated(unsafe) private var inFlightByPort: [Int: Int] = [:]  // guarded by `inFlight`
    /// At most this many queries in flight in all, and per drone (resolver port), so one drone
    /// flooding queries cannot take the sockets and memory every other drone needs.
    public let maximumInFlight: Int
    public let maximumInFlightPerDrone: Int
    let learner: any AddressLearning
    let upstream: any UpstreamForwarder
    let tcpUpstream: any TCPForwarder
    let graceMilliseconds: UInt64
    let holdMilliseconds: UInt64
    let sinkhole: DNSSinkhole
    let record: @Sendable (BlockedEvent) -> Void
    let clock: @Sendable () -> Int64
    let aliases = AliasTable()
    public let stats = ResolverStats()
    /// Learned addresses live at most this long plus the grace, whatever the TTL says.
    static let maximumTTLSeconds: UInt64 = 86_400

    public init(policy: NamePolicy, learner: any AddressLearning, upstream: any UpstreamForwarder,
                tcpUpstream: any TCPForwarder, graceSeconds: Int64, holdSeconds: Int64 = 0, sinkhole: DNSSinkhole,
                clock: @escaping @Sendable () -> Int64,
                maximumInFlight: Int = 2048, maximumInFlightPerDrone: Int = 512,
                record: @escaping @Sendable (BlockedEvent) -> Void) {
        self.currentPolicy = policy
        self.maximumInFlight = maximumInFlight
        self.maximumInFlightPerDrone = maximumInFlightPerDrone
        self.learner = learner
        self.upstream = upstream
        self.tcpUpstream = tcpUpstream
        self.graceMilliseconds = UInt64(max(0, graceSeconds)) * 1000
        self.holdMilliseconds = UInt64(max(0, holdSeconds)) * 1000
        self.sinkhole = sinkhole
        self.clock = clock
        self.record = record
    }

    /// Decide queries from now on with `policy` (the daemon reloads after an apply).
    public func reload(_ policy: NamePolicy) { policyLock.withLock { currentPolicy = policy } }

    /// The response bytes, or nil when the query is dropped (malformed beyond answering).
    public func answer(_ bytes: [UInt8], from client: DNSClient, on loop: any EventLoop) -> EventLoopFuture<[UInt8]?> {
        stats.count { $0.queries += 1 }
        // A drone flooding queries must not exhaust sockets or memory for every other drone.
        let port = client.port
        let admitted = inFlight.withLock { () -> Bool in
            guard inFlightCount < maximumInFlight, inFlightByPort[port, default: 0] < maximumInFlightPerDrone else {
                return false
            }
            inFlightCount += 1
            inFlightByPort[port, default: 0] += 1
            return true
        }
        guard admitted else {
            stats.count { $0.refusedBusy += 1 }
            return loop.makeSucceededFuture((try? DNSMessage.parse(bytes)).flatMap { refusal($0, DNSRcode.refused) })
        }
        let policy = self.policy
        let done = answer(bytes, from: client, policy: policy, on: loop)
        done.whenComplete { _ in
            self.inFlight.withLock {
                self.inFlightCount -= 1
                self.inFlightByPort[port, default: 1] -= 1
            }
        }
        return done
    }

    func answer(_ bytes: [UInt8], from client: DNSClient, policy: NamePolicy, on loop: any EventLoop) -> EventLoopFuture<[UInt8]?> {
        let query: DNSMessage
        do {
            query = try DNSMessage.parse(bytes)
        } catch {
            stats.count { $0.malformedQueries += 1 }
            return loop.makeSucceededFuture(nil)
        }
        guard !query.flags.qr, query.flags.opcode == 0, query.questions.count == 1 else {
            stats.count { $0.malformedQueries += 1 }
            return loop.makeSucceededFuture(refusal(query, DNSRcode.formErr))
        }
        guard let asker = policy.askers[client.port] else {
            return loop.makeSucceededFuture(refusal(query, DNSRcode.refused))
        }
        let question = query.questions[0].name
        if let reason = policy.beforeForwarding(question, for: asker) {
            stats.count { $0.answeredLocally += 1 }
            note(question, reason, .blocked, client, policy)
            return loop.makeSucceededFuture(sinkhole == .null ? sinkholeResponse(query) : refusal(query, DNSRcode.nxDomain))
        }
        // The upstream sees an id of ours, not the drone's: spoofing an answer takes guessing
        // both it and the query's random source port.
        let upstreamID = UInt16.random(in: 0...UInt16.max)
        let forwarded = [UInt8(upstreamID >> 8), UInt8(upstreamID & 0xFF)] + bytes.dropFirst(2)
        return upstream.forward(forwarded, id: upstreamID, answerLimit: udpLimit(query), on: loop).flatMap { first -> EventLoopFuture<[UInt8]> in
            // A truncated answer holds only some of the records (RFC 1035 4.2.1): ask the server
            // that sent it again over TCP (RFC 7766 5), and answer and learn from the whole one.
            // TC is read from the header alone: what follows it may be cut anywhere.
            guard first.bytes.count >= 12, first.bytes[2] & 0x02 != 0 else { return loop.makeSucceededFuture(first.bytes) }
            self.stats.count { $0.retriedOverTCP += 1 }
            return self.tcpUpstream.ask(forwarded, id: upstreamID, server: first.server, on: loop)
        }.flatMap { upstreamReply -> EventLoopFuture<[UInt8]?> in
            let answer: DNSMessage
            var reply = upstreamReply
            do {
                answer = try DNSMessage.parse(reply)
                guard answer.id == upstreamID else { throw UDPUpstream.NoAnswer() }
                reply[0] = UInt8(query.id >> 8)
                reply[1] = UInt8(query.id & 0xFF)
            } catch {
                self.stats.count { $0.malformedAnswers += 1 }
                return loop.makeSucceededFuture(self.refusal(query, DNSRcode.servFail))
            }
            guard answer.flags.qr, answer.questions.map(\.name) == [question] else {
                self.stats.count { $0.malformedAnswers += 1 }
                return loop.makeSucceededFuture(self.refusal(query, DNSRcode.servFail))
            }
            return self.decideAndLearn(query: query, reply: reply, answer: answer, asker: asker, client: client,
                                       policy: policy, on: loop)
        }.flatMapErrorThrowing { _ in
            self.stats.count { $0.upstreamFailures += 1 }
            return self.refusal(query, DNSRcode.servFail)
        }
    }

    func decideAndLearn(query: DNSMessage, reply: [UInt8], answer: DNSMessage, asker: DronePolicy,
                        client: DNSClient, policy: NamePolicy, on loop: any EventLoop) -> EventLoopFuture<[UInt8]?> {
        let question = query.questions[0].name
        let facts = AnswerFacts(question: question, answer: answer)
        let inherited = aliases.lookup(facts.names)
        let decision = policy.decide(facts.names, for: asker, inherited: inherited.mask)
        let matched = policy.classify(facts.names).matchedName ?? inherited.name ?? question
        let ttl = min(UInt64(facts.ttlSeconds), ResolverCore.maximumTTLSeconds) * 1000 + graceMilliseconds
        if decision.mask != 0 && facts.names.count > 1 {
            aliases.add(Array(facts.names.dropFirst()), mask: decision.mask, name: matched, ttlMilliseconds: ttl)
        }
        let finish: @Sendable () -> [UInt8]? = {
            if let reason = decision.sinkhole, self.sinkhole != .off {
                self.stats.count { $0.sinkholed += 1 }
                self.note(question, reason, .blocked, client, policy)
                return self.sinkholeResponse(query)
            }
            if let would = decision.wouldBlock { self.note(question, would, .wouldBlock, client, policy) }
            self.stats.count { $0.answered += 1 }
            return self.fitted(reply, rcode: answer.rcode, to: query, client: client)
        }
        // dns-strict: what the drone is answered is what it may reach (not what is sinkholed).
        let resolved = asker.dnsStrict && asker.kind != .isolate && (decision.sinkhole == nil || sinkhole == .off)
        guard decision.learnsAnything || resolved, !facts.addresses.isEmpty else { return loop.makeSucceededFuture(finish()) }
        var hostSets: [(drone: String, kind: KernelLayout.HostListKind)] = []
        if decision.allowHost { hostSets.append((asker.subject.word, .allow)) }
        if decision.blockHost { hostSets.append((asker.subject.word, .block)) }
        if resolved { hostSets.append((asker.subject.word, .resolved)) }
        var extra: [IPNetwork: UInt32] = [:]
        for a in facts.addresses {
            let c = policy.addressClasses(a)
            if c != 0 { extra[a] = c }
        }
        let request = Learner.Request(addresses: facts.addresses, mask: decision.mask, name: matched,
                                      timeoutMilliseconds: ttl, holdMilliseconds: holdMilliseconds, hostSets: hostSets,
                                      extraMasks: extra)
        let promise = loop.makePromise(of: [UInt8]?.self)
        learner.learn(request, on: loop) { result in
            switch result {
            case .success:
                self.stats.count { $0.learnedAnswers += 1 }
                promise.succeed(finish())
            case .failure:
                // Never hand out an address the kernel could not classify: fail closed.
                self.stats.count { $0.learnFailures += 1 }
                let sinkholing = decision.sinkhole != nil && self.sinkhole != .off
                promise.succeed(sinkholing ? finish() : self.refusal(query, DNSRcode.servFail))
            }
        }
        return promise.futureResult
    }

    func note(_ name: String, _ reason: LogReason, _ verdict: FlowVerdict, _ client: DNSClient, _ policy: NamePolicy) {
        let vendor = policy.classify([name]).vendor
        record(BlockedEvent(timeMicros: clock(), drone: policy.askers[client.port]?.subject.word ?? "?", reason: reason,
                            verdict: verdict, vendor: vendor, proto: .dns, source: client.address,
                            destination: name, port: 53, sourcePort: client.sourcePort, host: name, length: 0))
    }

    /// A UDP client gets no more than it can take: its EDNS payload size, at least 512 (RFC 6891
    /// 6.2.5; 512 without EDNS, RFC 1035 4.2.1). A larger answer becomes TC without records, so
    /// the client asks again over TCP; the kernel has learned the whole answer all the same.
    func fitted(_ reply: [UInt8], rcode: UInt16, to query: DNSMessage, client: DNSClient) -> [UInt8]? {
        guard !client.tcp, reply.count > udpLimit(query) else { return reply }
        stats.count { $0.truncatedForUDP += 1 }
        return try? DNSResponse.truncated(to: query, rcode: UInt8(clamping: rcode))
    }

    /// The largest UDP answer `query` takes: its EDNS payload size, at least 512.
    func udpLimit(_ query: DNSMessage) -> Int { max(512, Int(query.edns?.udpPayloadSize ?? 512)) }

    func sinkholeResponse(_ query: DNSMessage) -> [UInt8]? {
        switch sinkhole {
        case .nxdomain: return refusal(query, DNSRcode.nxDomain)
        case .null: return try? DNSResponse.nullAnswer(to: query, ttl: 60)
        case .off: return nil
        }
    }

    func refusal(_ query: DNSMessage, _ rcode: UInt8) -> [UInt8]? {
        try? DNSResponse.refusal(to: query, rcode: rcode)
    }
}
