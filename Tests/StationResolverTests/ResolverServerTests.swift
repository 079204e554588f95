import StationResolver
import DronewallConfig
import Foundation
import NIOCore
import NIOPosix
import Testing

/// The listeners themselves, on loopback: a bounded number of TCP clients at once.
@Suite struct ResolverServerTests {
    struct NeverAsked: UpstreamForwarder, TCPForwarder {
        func forward(_ query: [UInt8], id: UInt16, on loop: any EventLoop) -> EventLoopFuture<UpstreamReply> {
            loop.makeFailedFuture(UDPUpstream.NoAnswer())
        }
        func ask(_ query: [UInt8], id: UInt16, server: SocketAddress, on loop: any EventLoop) -> EventLoopFuture<[UInt8]> {
            loop.makeFailedFuture(UDPUpstream.NoAnswer())
        }
    }
    struct NeverLearns: AddressLearning {
        func learn(_ request: Learner.Request, on loop: (any EventLoop)?, completion: @escaping Learner.Completion) { completion(.success(())) }
    }

    @Test func tcpClientsBeyondTheLimitAreClosed() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let policy = NamePolicy(drones: [], catalogue: Catalogue())
        let core = ResolverCore(policy: policy, learner: NeverLearns(), upstream: NeverAsked(), tcpUpstream: NeverAsked(), graceSeconds: 30,
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

    /// A client trickling bytes (each read well inside any per-read timeout) still loses its
    /// place once a whole message has not arrived in time.
    @Test func aTricklingTCPClientIsClosed() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let policy = NamePolicy(drones: [], catalogue: Catalogue())
        let core = ResolverCore(policy: policy, learner: NeverLearns(), upstream: NeverAsked(), tcpUpstream: NeverAsked(), graceSeconds: 30,
                                sinkhole: .nxdomain, clock: { 0 }, record: { _ in })
        let server = ResolverServer(core: core, group: group, maximumTCPConnections: 2, tcpMessageTimeout: .milliseconds(600))
        let port = Int.random(in: 40_000...60_000)
        try server.start(ports: [port], host: "127.0.0.1")
        defer { server.stop() }
        let client = try ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).wait()
        // A 300-byte message announced, then one byte every 100 ms: it would take 30 s.
        try client.writeAndFlush(client.allocator.buffer(bytes: [0x01, 0x2c])).wait()
        var sent = 0
        while client.isActive && sent < 20 {
            try? client.writeAndFlush(client.allocator.buffer(bytes: [0])).wait()
            sent += 1
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(!client.isActive, "closed by the server after about 0.6 s, not kept by its trickle")
        #expect(sent < 15)
    }
}
