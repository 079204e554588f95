import StationResolver
import DNSWire
import NIOCore
import NIOPosix
import Testing

/// The UDP upstream against a loopback server: answers of every size the query allows arrive
/// whole (each query's socket is sized for them, not for the largest datagram).
@Suite struct UDPUpstreamTests {
    /// Answers each query with `records` A records, whatever size the query asked for.
    final class Answering: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let records: Int
        init(records: Int) { self.records = records }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            guard let q = try? DNSMessage.parse(Array(envelope.data.readableBytesView)) else { return }
            var m = DNSMessage(id: q.id, flags: DNSFlags(qr: true, rd: true, ra: true), questions: q.questions)
            m.answers = (0..<records).map {
                DNSRecord(name: "big.example.org", type: DNSType.a, ttl: 30, data: .a([198, 51, 100, UInt8($0 % 256)]))
            }
            let bytes = try! m.encode()
            context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress,
                                                                    data: context.channel.allocator.buffer(bytes: bytes))),
                                  promise: nil)
        }
    }

    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// The answer's size, as the upstream returned it, to a query allowing `ednsPayloadSize`.
    func answerSize(records: Int, ednsPayloadSize: UInt16?) throws -> (size: Int, parsed: Int) {
        let server = try DatagramBootstrap(group: group)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Answering(records: records)) }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let query = try DNSMessage.query(id: 0x7a7a, name: "big.example.org", type: DNSType.a, ednsPayloadSize: ednsPayloadSize)
        let limit = max(512, Int(ednsPayloadSize ?? 512))
        let reply = try UDPUpstream(servers: [server.localAddress!])
            .forward(query, id: 0x7a7a, answerLimit: limit, on: group.next()).wait()
        return (reply.bytes.count, try DNSMessage.parse(reply.bytes).answers.count)
    }

    @Test func anAnswerAsLargeAsTheQueryAllowsArrivesWhole() throws {
        // 2000 records of 31 bytes (the encoder does not compress names): about 62 KB, under
        // the 65,000 the query allows.
        let (size, parsed) = try answerSize(records: 2000, ednsPayloadSize: 65_000)
        #expect(size > 60_000)
        #expect(parsed == 2000)
    }

    @Test func aServerIgnoringA512ByteLimitIsStillReadWholeUpTo4KiB() throws {
        // 120 records: about 3.7 KB to a query without EDNS (a server should have set TC).
        let (size, parsed) = try answerSize(records: 120, ednsPayloadSize: nil)
        #expect(size > 3500)
        #expect(parsed == 120)
    }
}
