import StationResolver
import DNSWire
import Foundation
import NIOCore
import NIOPosix
import Testing

/// The TCP upstream against loopback servers that answer in pieces, wrongly or not at all.
@Suite struct TCPUpstreamTests {
    /// Reads one length-framed query, then writes what `reply` makes of it, a piece every 50 ms
    /// (an empty piece closes the connection).
    final class Scripted: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let reply: @Sendable ([UInt8]) -> [[UInt8]]
        var received: [UInt8] = []
        init(_ reply: @escaping @Sendable ([UInt8]) -> [[UInt8]]) { self.reply = reply }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += Array(unwrapInboundIn(data).readableBytesView)
            guard received.count >= 2, received.count == 2 + (Int(received[0]) << 8 | Int(received[1])) else { return }
            let channel = context.channel
            for (i, piece) in reply(Array(received.dropFirst(2))).enumerated() {
                context.eventLoop.scheduleTask(in: .milliseconds(50 * Int64(i))) {
                    if piece.isEmpty { channel.close(promise: nil) } else {
                        channel.writeAndFlush(channel.allocator.buffer(bytes: piece), promise: nil)
                    }
                }
            }
        }
    }

    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    func server(_ reply: @escaping @Sendable ([UInt8]) -> [[UInt8]]) throws -> any Channel {
        try ServerBootstrap(group: group)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Scripted(reply)) }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    static func answer(to query: [UInt8], id: UInt16? = nil) throws -> [UInt8] {
        let q = try DNSMessage.parse(query)
        var m = DNSMessage(id: id ?? q.id, flags: DNSFlags(qr: true, rd: true, ra: true), questions: q.questions)
        m.answers = (0..<60).map { DNSRecord(name: "big.example.org", type: DNSType.a, ttl: 30, data: .a([198, 51, 100, UInt8($0)])) }
        return try m.encode()
    }

    func ask(_ server: any Channel, timeout: TimeAmount = .seconds(3)) throws -> [UInt8] {
        let query = try DNSMessage.query(id: 0x5151, name: "big.example.org", type: DNSType.a, ednsPayloadSize: nil)
        return try TCPUpstream(timeout: timeout).ask(query, id: 0x5151, server: server.localAddress!, on: group.next()).wait()
    }

    @Test func theWholeAnswerArrivesThoughWrittenInPieces() throws {
        let s = try server { q in
            let a = try! Self.answer(to: q)
            let framed = [UInt8(a.count >> 8), UInt8(a.count & 0xFF)] + a
            return [Array(framed[..<1]), Array(framed[1..<300]), Array(framed[300...])]  // split inside the length too
        }
        defer { try? s.close().wait() }
        let bytes = try ask(s)
        let m = try DNSMessage.parse(bytes)
        #expect(m.id == 0x5151 && m.answers.count == 60 && bytes.count > 512)
    }

    @Test func aSilentServerFailsAtTheDeadline() throws {
        let s = try server { _ in [] }
        defer { try? s.close().wait() }
        let start = Date()
        #expect(throws: (any Error).self) { try ask(s, timeout: .milliseconds(300)) }
        let took = Date().timeIntervalSince(start)
        #expect(took >= 0.25 && took < 2, "\(took) s")
    }

    @Test func anAnswerWithAnotherIdFails() throws {
        let s = try server { q in
            let a = try! Self.answer(to: q, id: 0x1234)
            return [[UInt8(a.count >> 8), UInt8(a.count & 0xFF)] + a]
        }
        defer { try? s.close().wait() }
        #expect(throws: (any Error).self) { try ask(s) }
    }

    @Test func aServerClosingBeforeTheWholeAnswerFails() throws {
        let s = try server { _ in [[0x02, 0x00, 0x51, 0x51], []] }  // announces 512 bytes, sends 2, closes
        defer { try? s.close().wait() }
        let start = Date()
        #expect(throws: (any Error).self) { try ask(s, timeout: .seconds(3)) }
        #expect(Date().timeIntervalSince(start) < 1, "failed when the server closed, not at the deadline")
    }
}
