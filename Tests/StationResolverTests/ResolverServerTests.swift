import StationResolver
import DronewallConfig
import Foundation
import NIOCore
import NIOPosix
import Testing

/// The listeners themselves, on loopback: a bounded number of TCP clients at once.
@Suite struct ResolverServerTests {
    struct NeverAsked: UpstreamForwarder {
        func forward(_ query: [UInt8], id: UInt16, on loop: any EventLoop) -> EventLoopFuture<[UInt8]> {
            loop.makeFailedFuture(UDPUpstream.NoAnswer())
        }
    }
    struct NeverLearns: AddressLearning {
        func learn(_ request: Learner.Request, completion: @escaping Learner.Completion) { completion(.success(())) }
    }

    @Test func tcpClientsBeyondTheLimitAreClosed() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let policy = NamePolicy(drones: [], catalogue: Catalogue())
        let core = ResolverCore(policy: policy, learner: NeverLearns(), upstream: NeverAsked(), graceSeconds: 30,
                                sinkhole: .nxdomain, clock: { 0 }, record: { _ in })
        let server = ResolverServer(core: core, group: group, maximumTCPConnections: 2)
        let port = Int.random(in: 40_000...60_000)
        try server.start(ports: [port], host: "127.0.0.1")
        defer { server.stop() }
        let clients = try (0..<3).map { _ in
            try ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).wait()
        }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(clients.map(\.isActive) == [true, true, false])
        try clients[0].close().wait()
        Thread.sleep(forTimeInterval: 0.2)
        let again = try ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).wait()
        Thread.sleep(forTimeInterval: 0.3)
        #expect(again.isActive, "a place freed by a closed client is taken again")
        for c in clients.dropFirst() + [again] { try? c.close().wait() }
    }
}
