import StationResolver
import DNSWire
import DronewallConfig
import DronewallPolicy
import FlowLog
import Foundation
import Netfilter
import NIOCore
import NIOPosix
import NetAddress
import Testing
import KernelLayout

/// The resolver pipeline with a scripted upstream and a recording learner (no sockets, no root).
@Suite struct ResolverCoreTests {
    final class FakeUpstream: UpstreamForwarder, TCPForwarder, @unchecked Sendable {
        var answers: [String: (DNSMessage) -> [UInt8]] = [:]
        var delay: TimeAmount?
        /// Every name that reached the upstream.
        var asked: [String] = []
        /// The server said to have answered (over UDP), and those asked (over TCP).
        var server = try! SocketAddress(ipAddress: "198.51.100.53", port: 53)
        var servers: [SocketAddress] = []
        func forward(_ query: [UInt8], id: UInt16, on loop: any EventLoop) -> EventLoopFuture<UpstreamReply> {
            let server = self.server
            return reply(query, on: loop).map { UpstreamReply(bytes: $0, server: server) }
        }
        func ask(_ query: [UInt8], id: UInt16, server: SocketAddress, on loop: any EventLoop) -> EventLoopFuture<[UInt8]> {
            servers.append(server)
            return reply(query, on: loop)
        }
        func reply(_ query: [UInt8], on loop: any EventLoop) -> EventLoopFuture<[UInt8]> {
            if let q = try? DNSMessage.parse(query) { asked.append(q.questions[0].name) }
            guard let q = try? DNSMessage.parse(query), let make = answers[q.questions[0].name] else {
                return loop.makeFailedFuture(UDPUpstream.NoAnswer())
            }
            if let delay { return loop.scheduleTask(in: delay) { make(q) }.futureResult }
            return loop.makeSucceededFuture(make(q))
        }
    }

    final class FakeLearner: AddressLearning, @unchecked Sendable {
        let lock = NSLock()
        var requests: [Learner.Request] = []
        var fail = false
        var completedAt: [Date] = []
        func learn(_ request: Learner.Request, on loop: (any EventLoop)?, completion: @escaping Learner.Completion) {
            // Completes later, on another thread, as the kernel batch does.
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { [self] in
                lock.lock()
                requests.append(request)
                completedAt.append(Date())
                let fail = self.fail
                lock.unlock()
                completion(fail ? .failure(NetlinkError(kind: .rejected, errno: ENOENT, operation: "test")) : .success(()))
            }
        }
    }

    final class Events: @unchecked Sendable {
        let lock = NSLock()
        var all: [BlockedEvent] = []
        func add(_ e: BlockedEvent) { lock.lock(); all.append(e); lock.unlock() }
    }

    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let upstream = FakeUpstream()
    /// Asked only for answers truncated over UDP.
    let tcpUpstream = FakeUpstream()
    let learner = FakeLearner()
    let events = Events()

    func core(sinkhole: DNSSinkhole = .nxdomain, maximumInFlight: Int = 2048, perDrone: Int = 512) -> ResolverCore {
        let reader = MemoryReader([
            "/etc/dw/dronewall.conf": "[drone loc]\naddress = 192.0.2.10\npolicy = local-data\nallow = firmware\n"
                + "[drone two]\naddress = 192.0.2.11\npolicy = local-data\n"
                + "[drone iso]\naddress = 192.0.2.12\npolicy = isolate\n"
                + "[drone list]\naddress = 192.0.2.13\npolicy = allowlist\nallow = firmware\nallow-host = tiles.example.org\n"
                + "block-host = bad.tiles.example.org\n"
                + "[drone strict]\naddress = 192.0.2.14\npolicy = local-data\ndns-strict = yes\n",
            "/usr/share/dw/vendors/acme.rules": """
                [vendor acme]
                name = Acme
                jurisdiction = US
                source = s
                [endpoint geo.acme.example]
                categories = geofence
                source = s
                [endpoint fw.acme.example]
                categories = firmware
                source = s
                [endpoint 203.0.113.64/26]
                categories = media
                source = s
                """])
        let (cat, _) = CatalogueReader(reader: reader).read(directories: ["/usr/share/dw/vendors"])
        let (cfg, _) = ConfigReader(reader: reader).read(mainPath: "/etc/dw/dronewall.conf")
        let events = self.events
        return ResolverCore(policy: namePolicy(cfg, cat), learner: learner, upstream: upstream, tcpUpstream: tcpUpstream,
                            graceSeconds: 60, sinkhole: sinkhole, clock: { 1_000_000 }, maximumInFlight: maximumInFlight,
                            maximumInFlightPerDrone: perDrone, record: { events.add($0) })
    }

    /// An answer: `name` CNAME-chained through `chain`, ending in the addresses.
    static func answer(_ q: DNSMessage, chain: [String] = [], v4: [UInt8]? = [203, 0, 113, 7], ttl: UInt32 = 30,
                       more: [[UInt8]] = [], truncated: Bool = false) -> [UInt8] {
        var m = DNSMessage(id: q.id, flags: DNSFlags(qr: true, tc: truncated, rd: true, ra: true), questions: q.questions)
        var owner = q.questions[0].name
        for c in chain {
            m.answers.append(DNSRecord(name: owner, type: DNSType.cname, ttl: ttl, data: .cname(c)))
            owner = c
        }
        for a in (v4.map { [$0] } ?? []) + more { m.answers.append(DNSRecord(name: owner, type: DNSType.a, ttl: ttl, data: .a(a))) }
        return try! m.encode()
    }

    func ask(_ core: ResolverCore, _ name: String, port: Int = KernelLayout.dnsPorts(base: 15300, drones: ["loc"])["loc"]!,
             tcp: Bool = false, udpSize: UInt16? = 1232) throws -> DNSMessage? {
        let q = try DNSMessage.query(id: 0x4242, name: name, type: DNSType.a, ednsPayloadSize: udpSize)
        let client = DNSClient(port: port, address: "192.0.2.10", sourcePort: 40000, local: "192.0.2.1", tcp: tcp)
        guard let bytes = try core.answer(q, from: client, on: group.next()).wait() else { return nil }
        return try DNSMessage.parse(bytes)
    }

    @Test func blockedNameIsLearnedThenSinkholedAndRecorded() throws {
        upstream.answers["geo.acme.example"] = { Self.answer($0) }
        let c = core()
        let r = try #require(try ask(c, "geo.acme.example"))
        #expect(r.flags.rcode == DNSRcode.nxDomain && r.id == 0x4242)
        #expect(learner.requests.count == 1)
        #expect(learner.requests.first?.mask == Category.geofence.bit)
        #expect(learner.requests.first?.timeoutMilliseconds == 90_000, "TTL 30 s + grace 60 s")
        let e = try #require(events.all.first)
        #expect(e.drone == "loc" && e.reason.word == "geofence" && e.host == "geo.acme.example" && e.vendor == "acme")
        #expect(e.destination == "geo.acme.example" && e.port == 53)
        #expect(e.verdict == .blocked && e.proto == .dns)
        #expect(c.stats.snapshot.sinkholed == 1)
    }

    @Test func allowedCatalogueNameIsAnsweredOnlyAfterTheKernelBatch() throws {
        upstream.answers["fw.acme.example"] = { Self.answer($0) }
        let before = Date()
        let r = try #require(try ask(core(), "fw.acme.example"))
        let after = Date()
        #expect(r.flags.rcode == DNSRcode.noError)
        #expect(r.answers.contains { $0.data == .a([203, 0, 113, 7]) })
        let learned = try #require(learner.completedAt.first)
        #expect(learned > before && learned <= after, "the answer waited for the learner")
        #expect(events.all.isEmpty)
    }

    /// A query name is data: what a drone may not send must not reach the upstream either.
    @Test func isolateAndAllowlistKeepQueryNamesOnTheStation() throws {
        let ports = KernelLayout.dnsPorts(base: 15300, drones: ["iso", "list", "loc", "two"])
        for name in ["tiles.example.org", "fw.acme.example", "x7f3a.tunnel.example.net", "bad.tiles.example.org"] {
            upstream.answers[name] = { Self.answer($0) }
        }
        let c = core()
        let iso = try #require(try ask(c, "x7f3a.tunnel.example.net", port: ports["iso"]!))
        #expect(iso.flags.rcode == DNSRcode.nxDomain)
        let unlisted = try #require(try ask(c, "x7f3a.tunnel.example.net", port: ports["list"]!))
        #expect(unlisted.flags.rcode == DNSRcode.nxDomain)
        let blocked = try #require(try ask(c, "bad.tiles.example.org", port: ports["list"]!))
        #expect(blocked.flags.rcode == DNSRcode.nxDomain)
        #expect(upstream.asked.isEmpty, "nothing was forwarded: \(upstream.asked)")
        #expect(events.all.map { "\($0.drone) \($0.reason) \($0.host ?? "")" }
                == ["iso all x7f3a.tunnel.example.net", "list unlisted x7f3a.tunnel.example.net", "list host bad.tiles.example.org"],
                "every refused query is recorded")
        #expect(c.stats.snapshot.answeredLocally == 3)
        // What allowlist allows is still asked: its allow-host name and an allowed catalogue entry.
        #expect(try ask(c, "tiles.example.org", port: ports["list"]!)?.flags.rcode == DNSRcode.noError)
        #expect(try ask(c, "fw.acme.example", port: ports["list"]!)?.flags.rcode == DNSRcode.noError)
        #expect(upstream.asked == ["tiles.example.org", "fw.acme.example"])
    }

    /// dns-strict: every answer the drone gets goes into its resolved set first; a sinkholed one does not.
    @Test func strictDronesLearnWhatTheyAreAnswered() throws {
        let port = KernelLayout.dnsPorts(base: 15300, drones: ["iso", "list", "loc", "strict", "two"])["strict"]!
        upstream.answers["www.example.net"] = { Self.answer($0) }
        upstream.answers["geo.acme.example"] = { Self.answer($0) }
        let c = core()
        #expect(try ask(c, "www.example.net", port: port)?.flags.rcode == DNSRcode.noError)
        #expect(learner.requests.count == 1)
        #expect(learner.requests.first?.hostSets.map { "\($0.drone) \($0.kind)" } == ["strict resolved"])
        #expect(learner.requests.first?.mask == 0, "no class: it is just what was answered")
        #expect(try ask(c, "geo.acme.example", port: port)?.flags.rcode == DNSRcode.nxDomain)
        #expect(learner.requests.last?.hostSets.isEmpty == true, "the sinkholed answer's address is not reachable")
    }

    @Test func learningFailureFailsClosed() throws {
        upstream.answers["fw.acme.example"] = { Self.answer($0) }
        learner.fail = true
        let c = core()
        #expect(try ask(c, "fw.acme.example")?.flags.rcode == DNSRcode.servFail)
        #expect(c.stats.snapshot.learnFailures == 1)
    }

    @Test func cnameTargetsInheritTheClassesOfTheNameThatLedThere() throws {
        upstream.answers["innocent.example.net"] = { Self.answer($0, chain: ["geo.acme.example", "edge.cdn.example"]) }
        upstream.answers["edge.cdn.example"] = { Self.answer($0) }
        let c = core()
        #expect(try ask(c, "innocent.example.net")?.flags.rcode == DNSRcode.nxDomain)
        // Asked directly later (a cached CNAME): same classes, though no catalogue lists it.
        #expect(try ask(c, "edge.cdn.example")?.flags.rcode == DNSRcode.nxDomain)
        #expect(learner.requests.allSatisfy { $0.mask == Category.geofence.bit })
    }

    @Test func uncataloguedNamesPassWithoutLearning() throws {
        upstream.answers["www.example.org"] = { Self.answer($0) }
        #expect(try ask(core(), "www.example.org")?.answers.count == 1)
        #expect(learner.requests.isEmpty)
    }

    @Test func sinkholeOffStillFailsClosedWhenLearningFails() throws {
        upstream.answers["geo.acme.example"] = { Self.answer($0) }
        learner.fail = true
        #expect(try ask(core(sinkhole: .off), "geo.acme.example")?.flags.rcode == DNSRcode.servFail)
    }

    /// The learned value replaces the static one in the kernel: it carries the address's own
    /// classes (a catalogue network here) so an allowed name cannot strip them.
    @Test func learnedValuesKeepTheAddressesOwnClasses() throws {
        upstream.answers["fw.acme.example"] = { Self.answer($0, v4: [203, 0, 113, 77]) }
        _ = try ask(core(), "fw.acme.example")
        let r = try #require(learner.requests.first)
        #expect(r.mask == Category.firmware.bit)
        #expect(r.extraMasks[try IPNetwork.parse("203.0.113.77")] == Category.media.bit)
    }

    @Test func malformedInputIsCountedNeverFatal() throws {
        let c = core()
        let client = DNSClient(port: KernelLayout.dnsPorts(base: 15300, drones: ["loc"])["loc"]!, address: "192.0.2.10",
                               sourcePort: 1, local: "192.0.2.1", tcp: false)
        #expect(try c.answer([1, 2, 3], from: client, on: group.next()).wait() == nil)
        upstream.answers["bad.example.org"] = { q in Array(Self.answer(q).prefix(20)) }        // truncated
        upstream.answers["loop.example.org"] = { q in                                          // pointer loop
            var b = Self.answer(q); b[b.count - 16] = 0xC0; b[b.count - 15] = UInt8(b.count - 16); return b
        }
        upstream.answers["huge.example.org"] = { q in var b = Self.answer(q); b[6] = 0xFF; b[7] = 0xFF; return b }
        for n in ["bad.example.org", "loop.example.org", "huge.example.org"] {
            #expect(try ask(c, n)?.flags.rcode == DNSRcode.servFail, "\(n)")
        }
        #expect(c.stats.snapshot.malformedQueries == 1 && c.stats.snapshot.malformedAnswers == 3)
        // Still answering after all that.
        upstream.answers["www.example.org"] = { Self.answer($0) }
        #expect(try ask(c, "www.example.org")?.flags.rcode == DNSRcode.noError)
    }

    /// One drone flooding queries gets REFUSED beyond its share; another drone is still served.
    @Test func queriesInFlightAreCappedPerDrone() throws {
        upstream.answers["www.example.org"] = { Self.answer($0) }
        upstream.delay = .milliseconds(300)
        let c = core(maximumInFlight: 8, perDrone: 3)
        let ports = KernelLayout.dnsPorts(base: 15300, drones: ["loc", "two"])
        let q = try DNSMessage.query(id: 7, name: "www.example.org", type: DNSType.a)
        func send(_ drone: String) -> EventLoopFuture<[UInt8]?> {
            c.answer(q, from: DNSClient(port: ports[drone]!, address: "192.0.2.10", sourcePort: 1, local: "192.0.2.1",
                                        tcp: false), on: group.next())
        }
        let flood = (0..<5).map { _ in send("loc") }
        let other = (0..<2).map { _ in send("two") }
        let rcodes = { (fs: [EventLoopFuture<[UInt8]?>]) in try fs.map { try DNSMessage.parse($0.wait()!).flags.rcode } }
        #expect(try rcodes(flood).sorted() == [0, 0, 0, 5, 5])
        #expect(try rcodes(other) == [0, 0])
        #expect(c.stats.snapshot.refusedBusy == 2)
        // Once answered, the drone's share is free again.
        #expect(try rcodes([send("loc")]) == [0])
    }

    /// 30 addresses: an answer (uncompressed) over 512 bytes, inside 1232.
    static let many: [[UInt8]] = (0..<30).map { [198, 51, 100, UInt8(100 + $0)] }

    /// A truncated UDP answer is asked again over TCP, of the server that sent it; the drone is
    /// answered, and the kernel taught, with the whole answer and none of the truncated one.
    @Test func truncatedAnswerIsAskedAgainOverTCP() throws {
        upstream.answers["fw.acme.example"] = { Self.answer($0, v4: [203, 0, 113, 9], truncated: true) }
        upstream.server = try SocketAddress(ipAddress: "2001:db8::53", port: 53)
        tcpUpstream.answers["fw.acme.example"] = { Self.answer($0, v4: nil, more: Self.many) }
        let c = core()
        let r = try #require(try ask(c, "fw.acme.example", tcp: true))
        #expect(r.flags.rcode == DNSRcode.noError && !r.flags.tc && r.id == 0x4242)
        #expect(r.answers.map(\.data) == Self.many.map { .a($0) })
        #expect(tcpUpstream.servers == [upstream.server], "asked again where the truncated answer came from")
        #expect(learner.requests.count == 1)
        #expect(learner.requests.first?.addresses == Self.many.map { IPNetwork(bytes: $0, prefixLength: 32) })
        #expect(c.stats.snapshot.retriedOverTCP == 1 && c.stats.snapshot.truncatedForUDP == 0)
        // An answer that is whole over UDP is not asked again.
        upstream.answers["dl.acme.example"] = { Self.answer($0) }
        #expect(try ask(c, "dl.acme.example", tcp: true)?.answers.count == 1)
        #expect(tcpUpstream.asked == ["fw.acme.example"])
    }

    /// A UDP client gets the whole answer when it fits its payload size, else TC with no
    /// records (it asks again over TCP); the kernel learns the whole answer either way.
    @Test func udpClientsGetTheWholeAnswerOnlyWhenItFits() throws {
        upstream.answers["fw.acme.example"] = { Self.answer($0, truncated: true) }
        tcpUpstream.answers["fw.acme.example"] = { Self.answer($0, v4: nil, more: Self.many) }
        let c = core()
        let fits = try #require(try ask(c, "fw.acme.example", udpSize: 1232))
        #expect(!fits.flags.tc && fits.answers.count == 30)
        for small in [nil, 400, 512] as [UInt16?] {
            let r = try #require(try ask(c, "fw.acme.example", udpSize: small))
            #expect(r.flags.tc && r.flags.rcode == DNSRcode.noError && r.id == 0x4242, "\(String(describing: small))")
            #expect(r.answers.isEmpty && r.questions.map(\.name) == ["fw.acme.example"])
        }
        #expect(learner.requests.count == 4)
        #expect(learner.requests.allSatisfy { $0.addresses.count == 30 }, "learned whole, though not sent whole")
        #expect(c.stats.snapshot.retriedOverTCP == 4 && c.stats.snapshot.truncatedForUDP == 3)
    }

    /// The TCP retry failing is an upstream failure like any other: SERVFAIL, counted.
    @Test func failedTCPRetryIsServfail() throws {
        upstream.answers["fw.acme.example"] = { Self.answer($0, truncated: true) }
        let c = core()
        let r = try #require(try ask(c, "fw.acme.example", tcp: true))
        #expect(r.flags.rcode == DNSRcode.servFail && r.answers.isEmpty)
        #expect(c.stats.snapshot.upstreamFailures == 1 && c.stats.snapshot.retriedOverTCP == 1)
        #expect(learner.requests.isEmpty, "nothing of the truncated answer was learned")
    }

    @Test func unreachableUpstreamIsServfail() throws {
        let c = core()
        #expect(try ask(c, "nowhere.example.org")?.flags.rcode == DNSRcode.servFail)
        #expect(c.stats.snapshot.upstreamFailures == 1)
    }

    @Test func sinkholeOffAnswersAndLeavesBlockingToTheKernel() throws {
        upstream.answers["geo.acme.example"] = { Self.answer($0) }
        let r = try #require(try ask(core(sinkhole: .off), "geo.acme.example"))
        #expect(r.flags.rcode == DNSRcode.noError && r.answers.count == 1)
        #expect(learner.requests.first?.mask == Category.geofence.bit)
    }
}
