import NetAddress

/// One conntrack entry, as far as dronewall reads it: its original direction and its mark.
public struct ConntrackFlow: Sendable, Hashable {
    /// AF_INET or AF_INET6.
    public var family: UInt8
    public var source: IPNetwork?
    /// The original destination (before any NAT): the address a drone asked for.
    public var destination: IPNetwork?
    public var protocolNumber: UInt8 = 0
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?
    public var mark: UInt32 = 0
    /// The entry's original tuple and zone as the kernel wrote them: what names it in an update.
    var identity: [UInt8]

    init(family: UInt8, identity: [UInt8]) {
        self.family = family
        self.identity = identity
    }
}

/// Reads and re-marks conntrack entries through ctnetlink.
///
/// dronewall's fast path accepts a flow whose conntrack mark carries the table's generation.
/// Taking the generation out of one entry's mark sends the flow's next packet through its
/// drone's chain again, where it is classified afresh: kept if the policy allows it, dropped
/// (and logged) if not. Unlike deleting the entry, this keeps NAT mappings and TCP state.
public final class ConntrackClient {
    public let transport: NetlinkTransport
    private var nextSequence: UInt32 = 1

    public init(transport: NetlinkTransport) {
        self.transport = transport
    }

    private func takeSequence() -> UInt32 {
        defer { nextSequence = nextSequence == UInt32.max ? 1 : nextSequence + 1 }
        return nextSequence
    }

    /// Every entry, IPv4 and IPv6, whose mark is `value` under `mask` (the kernel filters).
    public func flows(markValue value: UInt32, mask: UInt32) throws(NetlinkError) -> [ConntrackFlow] {
        let request = NetlinkMessage(bytes: Ctnetlink.dumpRequest(markValue: value, mask: mask, sequence: takeSequence()))
        do {
            return try transport.request(request).compactMap(Ctnetlink.decode)
        } catch {
            throw error.renamed("read conntrack entries")
        }
    }

    /// Sets `flow`'s mark to `mark`. Returns false when the entry is gone (it ended meanwhile).
    @discardableResult
    public func setMark(_ mark: UInt32, of flow: ConntrackFlow) throws(NetlinkError) -> Bool {
        let request = NetlinkMessage(bytes: Ctnetlink.markUpdate(flow, mark: mark, sequence: takeSequence()))
        do {
            _ = try transport.request(request)
            return true
        } catch where error.isNotFound {
            return false
        } catch {
            throw error.renamed("set a conntrack mark")
        }
    }
}

extension NetlinkError {
    /// This error, told as a failure of `operation`.
    func renamed(_ operation: String) -> NetlinkError {
        var e = self
        e.operation = operation
        return e
    }
}
