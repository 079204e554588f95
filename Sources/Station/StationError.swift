import DronewallConfig
import Netfilter

/// Why the station could not start or had to stop. One place maps each to an exit status.
public enum StationError: Error, CustomStringConvertible {
    /// The config or catalogue has errors; nothing was changed.
    case config(Diagnostics)
    /// Another dronewalld runs on the same flow log (or holds the NFLOG group); nothing was changed.
    case busy(String)
    /// The kernel refused or failed (applying the table, binding or reading NFLOG).
    case kernel(String, NetlinkError)
    /// The flow log cannot be opened or read.
    case store(String)
    /// The station resolver cannot start: drones would resolve nothing (fail closed).
    case resolver(String)
    /// Records that could not be written by the time the daemon stopped.
    case unwritten(String)

    public var description: String {
        switch self {
        case let .config(d): return "\(d.errors.count) error(s) in the configuration; nothing was changed"
        case let .busy(why), let .store(why), let .resolver(why), let .unwritten(why): return why
        case let .kernel(what, error): return "\(what): \(error)"
        }
    }

    /// sysexits(3): 65 data error (config), 77 no permission, 1 for everything else.
    public var exitCode: Int32 {
        switch self {
        case .config: return 65
        case let .kernel(_, error): return error.isPermissionDenied ? 77 : 1
        case .busy, .store, .resolver, .unwritten: return 1
        }
    }
}
