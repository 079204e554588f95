import KernelLayout

/// The identity of a flow record: one per drone, verdict, category, protocol, source,
/// destination and port in one time window.
public struct FlowKey: Sendable, Hashable {
    public var drone: String
    public var reason: LogReason
    public var verdict: FlowVerdict
    public var proto: FlowProtocol
    public var source: String
    public var destination: String
    /// 0 when the protocol has no ports (kept non-null so the unique index can match it).
    public var port: Int
    /// Start of the window, microseconds since the epoch.
    public var windowStart: Int64
}

/// Packets of one flow key, summed. Written to the store as a delta: the store adds it to
/// what an earlier write of the same key left there.
public struct FlowRecord: Sendable, Hashable {
    public var key: FlowKey
    public var vendor: String?
    public var host: String?
    public var firstSeen: Int64
    public var lastSeen: Int64
    public var packets: Int64
    public var bytes: Int64
    /// Connection attempts: distinct source ports for TCP/UDP, packets otherwise.
    public var attempts: Int64
}
