import DNSWire
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers

/// The station resolver's sockets: UDP and TCP on every resolver port (one per drone, one for
/// unknown devices), bound dual-stack. Which drone asks is the port the kernel redirected to.
public final class ResolverServer: @unchecked Sendable {
    let core: ResolverCore
    let group: any EventLoopGroup
    private let lock = NIOLock()
    private var channels: [Int: [any Channel]] = [:]  // by port; guarded by `lock`
    let tcpGate: Gate
    let tcpMessageTimeout: TimeAmount

    /// TCP clients allowed at once, over all ports.
    public static let maximumTCPConnections = 256
    /// How long a TCP client has for each whole message (from connecting, then from its last one).
    public static let tcpMessageTimeout = TimeAmount.seconds(10)

    public init(core: ResolverCore, group: any EventLoopGroup, maximumTCPConnections: Int = ResolverServer.maximumTCPConnections,
                tcpMessageTimeout: TimeAmount = ResolverServer.tcpMessageTimeout) {
        self.core = core
        self.group = group
        self.tcpGate = Gate(limit: maximumTCPConnections)
        self.tcpMessageTimeout = tcpMessageTimeout
    }

    struct TooManyConnections: Error {}

    /// A counter with a ceiling, shared by the TCP listeners.
    final class Gate: @unchecked Sendable {
        private let lock = NIOLock()
        private var count = 0
        let limit: Int
        init(limit: Int) { self.limit = limit }
        func enter() -> Bool { lock.withLock { count < limit ? { count += 1; return true }() : false } }
        func leave() { lock.withLock { count -= 1 } }
    }

    /// The ports listened on now.
    public var ports: [Int] { lock.withLock { channels.keys.sorted() } }

    /// Binds every port on `host` (default: all addresses, IPv4 and IPv6) not bound yet.
    public func start(ports: [Int], host: String = "::") throws {
        for port in ports where lock.withLock({ channels[port] == nil }) {
            let core = self.core
            let udp = try DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
                .channelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(UDPQueryHandler(core: core, port: port)) }
                }
                .bind(host: host, port: port).wait()
            let gate = tcpGate
            let messageTimeout = tcpMessageTimeout
            let tcp = try ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { ch in
                    // A bounded number of TCP clients at once: beyond it, new ones are closed.
                    guard gate.enter() else { return ch.eventLoop.makeFailedFuture(TooManyConnections()) }
                    ch.closeFuture.whenComplete { _ in gate.leave() }
                    return ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                        try ch.pipeline.syncOperations.addHandler(MessageDeadline(limit: messageTimeout))
                        try ch.pipeline.syncOperations.addHandler(TCPQueryHandler(core: core, port: port))
                    }
                }
                .bind(host: host, port: port).wait()
            lock.withLock { channels[port] = [udp, tcp] }
        }
    }

    /// Closes the listeners of `ports` (all when nil).
    public func stop(ports: [Int]? = nil) {
        let closing: [any Channel] = lock.withLock {
            let keys = ports ?? Array(channels.keys)
            defer { for k in keys { channels[k] = nil } }
            return keys.flatMap { channels[$0] ?? [] }
        }
        for c in closing { try? c.close().wait() }
    }
}

/// `::ffff:192.0.2.10` (a dual-stack socket's view of an IPv4 client) as `192.0.2.10`.
func clientText(_ address: SocketAddress?) -> String {
    guard let ip = address?.ipAddress else { return "?" }
    if ip.hasPrefix("::ffff:"), ip.contains(".") { return String(ip.dropFirst(7)) }
    return ip
}

final class UDPQueryHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let core: ResolverCore
    let port: Int

    init(core: ResolverCore, port: Int) {
        self.core = core
        self.port = port
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        let remote = envelope.remoteAddress
        let channel = context.channel
        let client = DNSClient(port: port, address: clientText(remote), sourcePort: UInt16(remote.port ?? 0),
                               local: clientText(channel.localAddress), tcp: false)
        core.answer(bytes, from: client, on: context.eventLoop).whenSuccess { reply in
            guard let reply else { return }
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: channel.allocator.buffer(bytes: reply)),
                                  promise: nil)
        }
    }
}

/// Splits a TCP stream into DNS messages (RFC 1035 4.2.2: a two-byte length, then the message).
struct DNSTCPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
              buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}

final class TCPQueryHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let core: ResolverCore
    let port: Int

    init(core: ResolverCore, port: Int) {
        self.core = core
        self.port = port
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(unwrapInboundIn(data).readableBytesView)
        let channel = context.channel
        let remote = channel.remoteAddress
        let client = DNSClient(port: port, address: clientText(remote), sourcePort: UInt16(remote?.port ?? 0),
                               local: clientText(channel.localAddress), tcp: true)
        core.answer(bytes, from: client, on: context.eventLoop).whenSuccess { reply in
            guard let reply else { channel.close(promise: nil); return }
            var out = channel.allocator.buffer(capacity: reply.count + 2)
            out.writeInteger(UInt16(reply.count))
            out.writeBytes(reply)
            channel.writeAndFlush(out, promise: nil)
        }
    }

}

/// Closes a TCP client that has not sent a whole message within `limit` of connecting or of its
/// last message. A timeout per read would let a client trickling a byte at a time hold one of
/// the few TCP places forever.
final class MessageDeadline: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let limit: TimeAmount
    private var deadline: Scheduled<Void>?

    init(limit: TimeAmount) { self.limit = limit }

    func handlerAdded(context: ChannelHandlerContext) { restart(context) }
    func handlerRemoved(context: ChannelHandlerContext) { deadline?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        restart(context)  // a whole message arrived (the frame decoder sits before this handler)
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    private func restart(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: limit) { channel.close(promise: nil) }
    }
}
