import Netfilter
#if canImport(Glibc)
import Glibc
#endif

/// A transport that records what it is given and answers from a script. For tests; never root.
public final class RecordingTransport: NetlinkTransport {
    /// Every batch sent, in order.
    public private(set) var batches: [[NetlinkMessage]] = []
    /// Every request sent, in order.
    public private(set) var requests: [NetlinkMessage] = []
    /// Scripted failures for the next batch: position in the batch (0 = batch begin) -> error.
    /// Like the kernel, the fake answers every other message that asked for an ack with success.
    public var failures: [Int: (errno: Int32, extendedAck: String?, offset: UInt32?)] = [:]
    /// Answers to requests; the default answers every request with ENOENT.
    public var requestHandler: (NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage]
    /// The ruleset generation NFT_MSG_GETGEN is answered with, as a kernel would; nil passes
    /// GETGEN to `requestHandler` like any other request.
    public var generation: UInt32? = 1

    public init() {
        requestHandler = { (m: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage] in
            throw NetlinkError(kind: .rejected, errno: ENOENT, operation: "request")
        }
    }

    public func sendBatch(_ messages: [NetlinkMessage]) throws(NetlinkError) -> [NetlinkAck] {
        batches.append(messages)
        var acks: [NetlinkAck] = []
        for (i, m) in messages.enumerated() {
            if let f = failures[i] {
                acks.append(NetlinkAck(sequence: m.sequence, errno: f.errno, extendedMessage: f.extendedAck,
                                       errorOffset: f.offset))
            } else if m.wantsAck {
                // Like kernels since 6.4, which answer batch begin and end too.
                acks.append(NetlinkAck(sequence: m.sequence))
            }
        }
        failures = [:]
        return acks
    }

    public func request(_ message: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage] {
        requests.append(message)
        if let generation, GenerationCodec.isRequest(message) {
            return [GenerationCodec.reply(generation: generation, sequence: message.sequence)]
        }
        return try requestHandler(message)
    }
}

