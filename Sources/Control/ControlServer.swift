#if canImport(Glibc)
import Glibc
#endif

/// The daemon's side: listens without blocking; the main loop takes what is waiting between its
/// turns, so requests are handled on the thread that owns the station.
public final class ControlServer {
    public let endpoint: ControlEndpoint
    private let fd: Int32

    /// Fails when the name is taken: another daemon answers in this network namespace.
    public init(endpoint: ControlEndpoint = ControlEndpoint()) throws(ControlError) {
        self.endpoint = endpoint
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlError("socket(AF_UNIX)") }
        let bound = endpoint.withAddress { bind(fd, $0, $1) }
        guard bound == 0, listen(fd, 16) == 0 else {
            let e = ControlError("bind \(endpoint)")
            close(fd)
            throw e
        }
    }

    deinit { close(fd) }

    /// One client's request, answered with `reply` (once).
    public struct Pending {
        public let request: ControlRequest
        /// The client's user id; requests from anyone but root are refused before they reach the caller.
        public let uid: uid_t
        let fd: Int32

        public func reply(_ r: ControlReply) { Pending.send(fd, r) }

        static func send(_ fd: Int32, _ r: ControlReply) {
            _ = writeAll(fd, ControlCodec.encode(r))
            close(fd)
        }
    }

    /// Requests waiting now (never blocks for a connection; reads each request with a short deadline).
    /// Malformed requests and those from other users are answered here and not returned.
    public func takeWaiting() -> [Pending] {
        var out: [Pending] = []
        // A bounded number per turn: a flood of connections must not keep the loop from its work.
        for _ in 0..<32 {
            let c = accept(fd, nil, nil)  // not inheriting O_NONBLOCK: the reads below wait (bounded)
            if c < 0 { return out }  // EAGAIN: nothing waiting (an EINTR is retried at the next turn)
            _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            setTimeout(c, SO_RCVTIMEO, seconds: 2)
            setTimeout(c, SO_SNDTIMEO, seconds: 2)
            let uid = peerUID(c)
            // Anyone may connect to an abstract name: refuse others before reading a byte, so no
            // one but root can hold the daemon's loop up.
            guard uid == 0 else {
                Pending.send(c, ControlReply(exitCode: 77, errors: "dronewalld: not permitted: only root may talk to the daemon\n"))
                continue
            }
            if let request = readLine(c).flatMap({ ControlCodec.decode(ControlRequest.self, from: $0) }) {
                out.append(Pending(request: request, uid: uid, fd: c))
            } else {
                Pending.send(c, ControlReply(exitCode: 64, errors: "dronewalld: a request it cannot read\n"))
            }
        }
        return out
    }
}

/// struct ucred of linux/socket.h (Glibc hides it without _GNU_SOURCE).
private struct PeerCredentials {
    var pid: pid_t = 0
    var uid: uid_t = 0
    var gid: gid_t = 0
}

/// SO_PEERCRED (asm-generic/socket.h): the credentials of the process at the other end.
private let peerCredentialsOption: Int32 = 17

/// The connected peer's user id; uid_t.max when the kernel does not say.
func peerUID(_ fd: Int32) -> uid_t {
    var cred = PeerCredentials()
    var len = socklen_t(MemoryLayout<PeerCredentials>.size)
    return getsockopt(fd, SOL_SOCKET, peerCredentialsOption, &cred, &len) == 0 ? cred.uid : uid_t.max
}
