#if canImport(Glibc)
import Glibc
#endif

/// The command line's side.
public enum ControlClient {
    /// Asks the daemon; nil when no daemon listens in this network namespace (then the caller
    /// works on the kernel itself). Waits up to `timeoutSeconds` for the answer.
    public static func ask(_ request: ControlRequest, endpoint: ControlEndpoint = ControlEndpoint(),
                           timeoutSeconds: Int = 120) throws(ControlError) -> ControlReply? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlError("socket(AF_UNIX)") }
        defer { close(fd) }
        let connected = endpoint.withAddress { connect(fd, $0, $1) }
        if connected != 0 {
            if errno == ECONNREFUSED || errno == ENOENT { return nil }
            throw ControlError("connect to dronewalld at \(endpoint)")
        }
        setTimeout(fd, SO_SNDTIMEO, seconds: 5)
        setTimeout(fd, SO_RCVTIMEO, seconds: timeoutSeconds)
        guard writeAll(fd, ControlCodec.encode(request)) else { throw ControlError("send to dronewalld") }
        guard let line = readLine(fd) else {
            throw ControlError("no answer from dronewalld within \(timeoutSeconds) s", errno: errno == 0 ? ETIMEDOUT : errno)
        }
        guard let reply = ControlCodec.decode(ControlReply.self, from: line) else {
            throw ControlError("an answer from dronewalld it cannot read", errno: EPROTO)
        }
        return reply
    }
}
