import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Sends a query to the upstream resolvers and returns the first answer.
public protocol UpstreamForwarder: Sendable {
    func forward(_ query: [UInt8], id: UInt16, on loop: any EventLoop) -> EventLoopFuture<UpstreamReply>
    /// The same, told the largest answer the query allows (its EDNS payload size, at least 512).
    func forward(_ query: [UInt8], id: UInt16, answerLimit: Int, on loop: any EventLoop) -> EventLoopFuture<UpstreamReply>
}

extension UpstreamForwarder {
    public func forward(_ query: [UInt8], id: UInt16, answerLimit: Int, on loop: any EventLoop) -> EventLoopFuture<UpstreamReply> {
        forward(query, id: id, on: loop)
    }
}

/// An upstream's answer and the server that sent it (a truncated one is asked there again).
public struct UpstreamReply: Sendable {
    public var bytes: [UInt8]
    public var server: SocketAddress
    public init(bytes: [UInt8], server: SocketAddress) {
        self.bytes = bytes
        self.server = server
    }
}

/// Asks one upstream server over TCP: the retry of an answer that came back truncated over UDP.
public protocol TCPForwarder: Sendable {
    func ask(_ query: [UInt8], id: UInt16, server: SocketAddress, on loop: any EventLoop) -> EventLoopFuture<[UInt8]>
}

/// Completes `promise` with the first result only: an answer, an error and a timeout may race.
func firstResult<T: Sendable>(_ promise: EventLoopPromise<T>) -> @Sendable (Result<T, any Error>) -> Void {
    let done = NIOLockedValueBox(false)
    return { result in
        guard done.withLockedValue({ d in defer { d = true }; return !d }) else { return }
        promise.completeWith(result)
    }
}

/// Forwards over UDP to the upstream resolvers in order, each with a timeout; an answer must
/// come from the server asked and carry the query's id (anything else is ignored).
public struct UDPUpstream: UpstreamForwarder {
    public let servers: [SocketAddress]
    public let timeout: TimeAmount
    /// Where each query's socket binds (any address, a port the kernel picks), parsed once:
    /// binding by host name would resolve it for every query.
    let anyV4: SocketAddress
    let anyV6: SocketAddress

    public init(servers: [SocketAddress], timeout: TimeAmount = .seconds(2)) {
        self.servers = servers
        self.timeout = timeout
        anyV4 = try! SocketAddress(ipAddress: "0.0.0.0", port: 0)
        anyV6 = try! SocketAddress(ipAddress: "::", port: 0)
    }

    public struct NoAnswer: Error { public init() {} }

    public func forward(_ query: [UInt8], id: UInt16, on loop: any EventLoop) -> EventLoopFuture<UpstreamReply> {
        forward(query, id: id, answerLimit: 65_535, on: loop)
    }

    public func forward(_ query: [UInt8], id: UInt16, answerLimit: Int, on loop: any EventLoop) -> EventLoopFuture<UpstreamReply> {
        let capacity = UDPUpstream.receiveCapacity(answerLimit: answerLimit)
        func attempt(_ i: Int) -> EventLoopFuture<UpstreamReply> {
            guard i < servers.count else { return loop.makeFailedFuture(NoAnswer()) }
            let server = servers[i]
            return ask(server, query, id, capacity, loop).map { UpstreamReply(bytes: $0, server: server) }
                .flatMapError { _ in attempt(i + 1) }
        }
        return attempt(0)
    }

    /// The receive buffer of a query's socket: the largest answer the query allows, and at least
    /// 4 KiB (a server that ignores a small limit is still read whole, up to that). A server may
    /// not send more than the asker's EDNS payload size, or 512 bytes without EDNS (RFC 6891
    /// 6.2.5, RFC 1035 4.2.1). Not 64 KiB for every query: NIO's pooled receive allocator copies
    /// a fresh channel's first buffer whole on its first read (copy-on-write of the pool's
    /// reference), and that copy and its page faults were a tenth of the event loop's time (`perf`).
    static func receiveCapacity(answerLimit: Int) -> Int { min(65_536, max(4096, answerLimit)) }

    func ask(_ server: SocketAddress, _ query: [UInt8], _ id: UInt16, _ capacity: Int, _ loop: any EventLoop)
        -> EventLoopFuture<[UInt8]> {
        let promise = loop.makePromise(of: [UInt8].self)
        let finish = firstResult(promise)
        let timeout = timeout
        DatagramBootstrap(group: loop)
            // NIO's default buffer would cut answers at 2 KiB.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: capacity))
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(UpstreamReplyHandler(server: server, id: id, finish: finish))
                }
            }
            .bind(to: server.protocol == .inet6 ? anyV6 : anyV4)
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

/// Asks one server over one TCP connection (RFC 1035 4.2.2, RFC 7766 8: each message is
/// preceded by its length in two bytes), from connecting to the whole answer within `timeout`;
/// the answer must carry the query's id.
public struct TCPUpstream: TCPForwarder {
    public let timeout: TimeAmount

    /// `timeout` covers connecting, asking and the whole answer. After the UDP tries (2 s a
    /// server) it still ends inside the 10 s a TCP client of the station has per message
    /// (`ResolverServer.tcpMessageTimeout`, which also ends a pending answer) with up to four servers.
    public init(timeout: TimeAmount = .seconds(3)) {
        self.timeout = timeout
    }

    public func ask(_ query: [UInt8], id: UInt16, server: SocketAddress, on loop: any EventLoop) -> EventLoopFuture<[UInt8]> {
        guard query.count <= Int(UInt16.max) else { return loop.makeFailedFuture(UDPUpstream.NoAnswer()) }
        let promise = loop.makePromise(of: [UInt8].self)
        let finish = firstResult(promise)
        let timer = loop.scheduleTask(in: timeout) { finish(.failure(UDPUpstream.NoAnswer())) }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                    try ch.pipeline.syncOperations.addHandler(TCPReplyHandler(id: id, finish: finish))
                }
            }
            .connect(to: server)
            .whenComplete { result in
                switch result {
                case let .failure(e): finish(.failure(e))
                case let .success(ch):
                    promise.futureResult.whenComplete { _ in ch.close(promise: nil) }
                    var framed = ch.allocator.buffer(capacity: query.count + 2)
                    framed.writeInteger(UInt16(query.count))
                    framed.writeBytes(query)
                    ch.writeAndFlush(framed).whenFailure { finish(.failure($0)) }
                }
            }
        return promise.futureResult
    }
}

/// The first whole message on an upstream TCP connection: the answer, if it carries our id.
final class TCPReplyHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let id: UInt16
    let finish: @Sendable (Result<[UInt8], any Error>) -> Void

    init(id: UInt16, finish: @escaping @Sendable (Result<[UInt8], any Error>) -> Void) {
        self.id = id
        self.finish = finish
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        guard message.getInteger(at: message.readerIndex, as: UInt16.self) == id else {
            finish(.failure(UDPUpstream.NoAnswer()))
            return
        }
        finish(.success(Array(message.readableBytesView)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(UDPUpstream.NoAnswer()))  // closed before a whole answer (a no-op after one)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }
}
