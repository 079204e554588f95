import NIOCore
import NIOPosix

/// Sends a query to the upstream resolvers and returns the first answer.
public protocol UpstreamForwarder: Sendable {
    func forward(_ query: [UInt8], id: UInt16, on loop: any EventLoop) -> EventLoopFuture<[UInt8]>
}

/// Forwards over UDP to the upstream resolvers in order, each with a timeout; an answer must
/// come from the server asked and carry the query's id (anything else is ignored).
public struct UDPUpstream: UpstreamForwarder {
    public let servers: [SocketAddress]
    public let timeout: TimeAmount

    public init(servers: [SocketAddress], timeout: TimeAmount = .seconds(2)) {
        self.servers = servers
        self.timeout = timeout
    }

    public struct NoAnswer: Error { public init() {} }

    public func forward(_ query: [UInt8], id: UInt16, on loop: any EventLoop) -> EventLoopFuture<[UInt8]> {
        func attempt(_ i: Int) -> EventLoopFuture<[UInt8]> {
            guard i < servers.count else { return loop.makeFailedFuture(NoAnswer()) }
            return ask(servers[i], query, id, loop).flatMapError { _ in attempt(i + 1) }
        }
        return attempt(0)
    }

    func ask(_ server: SocketAddress, _ query: [UInt8], _ id: UInt16, _ loop: any EventLoop) -> EventLoopFuture<[UInt8]> {
        let promise = loop.makePromise(of: [UInt8].self)
        let once = NIOLoopBoundBox(false, eventLoop: loop)
        let finish: @Sendable (Result<[UInt8], any Error>) -> Void = { result in
            loop.execute {
                guard !once.value else { return }
                once.value = true
                promise.completeWith(result)
            }
        }
        let timeout = timeout
        DatagramBootstrap(group: loop)
            // Answers up to the largest datagram (NIO's default buffer would cut them at 2 KiB).
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(UpstreamReplyHandler(server: server, id: id, finish: finish))
                }
            }
            .bind(host: server.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
            .whenComplete { result in
                switch result {
                case let .failure(e): finish(.failure(e))
                case let .success(ch):
                    let timer = loop.scheduleTask(in: timeout) { finish(.failure(NoAnswer())) }
                    promise.futureResult.whenComplete { _ in timer.cancel(); ch.close(promise: nil) }
                    ch.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: ch.allocator.buffer(bytes: query)))
                        .whenFailure { finish(.failure($0)) }
                }
            }
        return promise.futureResult
    }
}

final class UpstreamReplyHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let server: SocketAddress
    let id: UInt16
    let finish: @Sendable (Result<[UInt8], any Error>) -> Void

    init(server: SocketAddress, id: UInt16, finish: @escaping @Sendable (Result<[UInt8], any Error>) -> Void) {
        self.server = server
        self.id = id
        self.finish = finish
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress.ipAddress == server.ipAddress, envelope.remoteAddress.port == server.port,
              envelope.data.getInteger(at: envelope.data.readerIndex, as: UInt16.self) == id else { return }
        finish(.success(Array(envelope.data.readableBytesView)))
    }
}
