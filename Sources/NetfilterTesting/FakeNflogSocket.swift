import Netfilter

/// A scripted NFLOG socket: answers each config message with an ack (errno from `ackErrnos`,
/// else success), then serves `script` one receive at a time, then times out. No root.
package final class FakeNflogSocket: NflogSocket {
    /// Every message the reader sent (config requests).
    package private(set) var sent: [[UInt8]] = []
    /// Errnos for the next acks, in order; an empty list answers success.
    package var ackErrnos: [Int32] = []
    /// What the next receives return, in order.
    package var script: [NetlinkReceive] = []
    /// The netlink port the kernel reports as the group's owner, if any.
    package var owner: UInt32?
    package var receiveBuffer = 212_992
    package private(set) var receiveBufferRequests: [Int] = []
    private var queued: [[UInt8]] = []

    package init() {}

    package var fileDescriptor: Int32 { -1 }

    package func send(_ bytes: [UInt8]) throws(NetlinkError) {
        sent.append(bytes)
        let e = ackErrnos.isEmpty ? 0 : ackErrnos.removeFirst()
        // NLMSG_ERROR with NLM_F_CAPPED: the error code, then the request's header.
        let code = UInt32(bitPattern: -e)
        var ack: [UInt8] = [36, 0, 0, 0, 2, 0, 0, 1] + Array(bytes[8..<16])
        ack += (0..<4).map { UInt8(truncatingIfNeeded: code >> (8 * UInt32($0))) }
        ack += Array(bytes[0..<16])
        queued.append(ack)
    }

    package func receive(timeoutMilliseconds: Int) throws(NetlinkError) -> NetlinkReceive {
        if !queued.isEmpty { return .data(queued.removeFirst()) }
        if !script.isEmpty { return script.removeFirst() }
        return .timeout
    }

    package func receiveBufferBytes() -> Int { receiveBuffer }
    package func setReceiveBuffer(_ bytes: Int) {
        receiveBufferRequests.append(bytes)
        receiveBuffer = 2 * bytes // as Linux reports it
    }
    package func groupOwner(_ group: UInt16) -> UInt32? { owner }

    /// Queues logged packets for the next receive (one message each).
    package func deliver(_ packets: [NflogPacket]) {
        for p in packets { script.append(.data(p.message())) }
    }

    /// Queues an overrun (ENOBUFS) for the next receive.
    package func overrun() { script.append(.overrun) }
}

extension NflogReader {
    /// A reader bound through a fake socket, with the reader's default tuning.
    package static func fake(group: UInt16 = 7140, socket: FakeNflogSocket) throws(NetlinkError) -> NflogReader {
        try NflogReader(group: group, socket: socket, receiveBufferBytes: 4 << 20, tuning: NflogTuning())
    }
}
