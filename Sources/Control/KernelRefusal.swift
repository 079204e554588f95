import DronewallConfig
import Netfilter

/// What a user is told when the kernel refuses a change, the same from `dronewall` working on
/// the kernel itself and from the daemon answering it: the refused object at the config place
/// that produced it (with the line and a caret, like a config error), and the exit status.
public enum KernelRefusal {
    public static let notPermitted: Int32 = 77  // EX_NOPERM
    public static let refused: Int32 = 1

    /// `sources`: the diagnostics the config was read with, to show the refused object's line.
    public static func describe(_ error: NetlinkError, operation: String, sources: Diagnostics?) -> (text: String, exitCode: Int32) {
        if error.isPermissionDenied {
            return ("dronewall \(operation): not permitted: run as root or with CAP_NET_ADMIN (\(error.errnoText))\n", notPermitted)
        }
        var text: String
        if let origin = error.origin, let sources {
            let what = error.object.map { "the kernel refused \($0)" } ?? "\(error.operation) failed"
            text = Diagnostic(.error, what + error.reason, at: origin, sourceLine: sources.line(at: origin)).description
        } else {
            text = "dronewall \(operation): \(error)\n"
        }
        if error.kind == .rejected {
            text += "dronewall \(operation): the kernel refused the batch; nothing was changed\n"
        }
        return (text, refused)
    }
}
