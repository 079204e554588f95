import SourcePlaces
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failure talking to nf_tables, with the place that caused it.
///
/// For a rejected batch `object` and `origin` name the message the kernel refused,
/// mapped back from the error ack's sequence number; nothing of the batch was committed.
public struct NetlinkError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// EPERM/EACCES: the caller lacks CAP_NET_ADMIN (the CLI exits 77).
        case permissionDenied
        /// The kernel refused a message; the whole batch was rolled back.
        case rejected
        /// A local system call (socket, bind, send, receive, setns) failed.
        case system
        /// The kernel's reply was malformed or did not answer what was sent.
        case protocolViolation
        /// No reply arrived in time.
        case timeout
        /// The IR cannot be expressed as nf_tables objects (checked before anything is sent).
        case invalidRuleset
    }

    public var kind: Kind
    /// Positive errno value (0 when none applies).
    public var errno: Int32
    /// The kernel's extended-ack text, if it sent one.
    public var extendedAck: String?
    /// What was being sent or read, e.g. `rule 2 in chain forward`.
    public var object: KernelObject?
    /// The config or catalogue place that produced that object, e.g. `drones.d/survey.conf:4:1`.
    public var origin: SourceLocation?
    /// What dronewall was doing, e.g. `apply`, `flush`, `socket`.
    public var operation: String
    /// Free-form extra detail (used for local and protocol errors).
    public var detail: String?
    /// Further errors the kernel reported for later messages of the same batch.
    public var laterErrors: [String]

    public init(kind: Kind, errno: Int32, extendedAck: String? = nil, object: KernelObject? = nil,
                origin: SourceLocation? = nil, operation: String, detail: String? = nil, laterErrors: [String] = []) {
        self.kind = kind
        self.errno = errno
        self.extendedAck = extendedAck
        self.object = object
        self.origin = origin
        self.operation = operation
        self.detail = detail
        self.laterErrors = laterErrors
    }

    /// True for EPERM/EACCES (no CAP_NET_ADMIN in this network namespace).
    public var isPermissionDenied: Bool { kind == .permissionDenied }

    /// `strerror(errno)`.
    public var errnoText: String { NetlinkError.strerror(errno) }
    /// The errno's symbolic name (`EEXIST`), when known.
    public var errnoName: String? { NetlinkError.errnoNames[errno] }

    public var description: String {
        var s = "\(operation) failed"
        if let object { s += ": \(object)" }
        if let origin { s += " (from \(origin))" }
        return s + reason
    }

    /// What went wrong, without the object and place: `: No such file or directory (ENOENT): kernel says: ...`.
    public var reason: String {
        var s = ""
        if errno != 0 {
            s += ": \(errnoText)"
            if let errnoName { s += " (\(errnoName))" }
        }
        if let extendedAck, !extendedAck.isEmpty { s += ": kernel says: \(extendedAck)" }
        if let detail { s += ": \(detail)" }
        if kind == .permissionDenied { s += " — needs root or CAP_NET_ADMIN" }
        if !laterErrors.isEmpty { s += " (and \(laterErrors.count) later error(s))" }
        return s
    }

    /// ENOENT: the table, chain, set or element is not there.
    public var isNotFound: Bool { errno == ENOENT && kind == .rejected }
    /// EEXIST: the kernel already holds it (an element with another value, for one).
    public var isAlreadyExists: Bool { errno == EEXIST && kind == .rejected }

    /// Classifies an errno from the kernel or a system call.
    static func kind(forErrno e: Int32, default d: Kind) -> Kind {
        e == EPERM || e == EACCES ? .permissionDenied : d
    }

    /// An error from a failed local system call, reading the thread's errno.
    static func system(_ call: String, errno e: Int32 = Glibc.errno) -> NetlinkError {
        NetlinkError(kind: kind(forErrno: e, default: e == EAGAIN || e == EWOULDBLOCK ? .timeout : .system),
                     errno: e, operation: call)
    }

    static func strerror(_ e: Int32) -> String {
        guard let p = Glibc.strerror(e) else { return "errno \(e)" }
        return String(cString: p)
    }

    static let errnoNames: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", E2BIG: "E2BIG", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM",
        EACCES: "EACCES", EBUSY: "EBUSY", EEXIST: "EEXIST", ENODEV: "ENODEV", EINVAL: "EINVAL", ENFILE: "ENFILE",
        ENOSPC: "ENOSPC", ERANGE: "ERANGE", ELOOP: "ELOOP", EMSGSIZE: "EMSGSIZE", EOPNOTSUPP: "EOPNOTSUPP",
        ENOBUFS: "ENOBUFS", EPROTO: "EPROTO", ETIMEDOUT: "ETIMEDOUT", ENAMETOOLONG: "ENAMETOOLONG",
        EOVERFLOW: "EOVERFLOW", ERESTART: "ERESTART", EAFNOSUPPORT: "EAFNOSUPPORT", EPROTONOSUPPORT: "EPROTONOSUPPORT",
    ]
}
