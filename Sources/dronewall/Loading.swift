import ArgumentParser
import DronewallConfig
import DronewallPolicy
import NftModel
#if canImport(Glibc)
import Glibc
#endif

/// Reading config + catalogue and compiling them, with diagnostics on stderr.
enum Loading {
    /// The compiled ruleset, or an exit with code 65 after printing every error.
    static func compile(_ options: SourceOptions) throws -> (Ruleset, Config, Catalogue) {
        let (catalogue, catDiags) = CatalogueReader().read(directories: options.catalogueDirectories)
        let (config, confDiags) = ConfigReader().read(mainPath: options.config)
        var diags = Diagnostics()
        diags.append(contentsOf: catDiags)
        diags.append(contentsOf: confDiags)
        if catalogue.files.isEmpty && !catDiags.hasErrors {
            diags.warning("no vendor catalogue found in \(options.catalogueDirectories.joined(separator: ", ")): "
                          + "no manufacturer endpoint will be recognised", at: nil)
        }
        var ruleset: Ruleset?
        if !diags.hasErrors {
            ruleset = PolicyCompiler(config: config, catalogue: catalogue, resolveUser: lookupUser).compile(into: &diags)
        }
        printStderr(diags.rendered)
        guard let ruleset, !diags.hasErrors else {
            let n = diags.errors.count
            printStderr("dronewall: \(n) error\(n == 1 ? "" : "s"); nothing was changed\n")
            throw ExitCode(ExitCodes.dataError)
        }
        return (ruleset, config, catalogue)
    }

    static func catalogue(_ options: SourceOptions) throws -> Catalogue {
        let (catalogue, diags) = CatalogueReader().read(directories: options.catalogueDirectories)
        printStderr(diags.rendered)
        if diags.hasErrors { throw ExitCode(ExitCodes.dataError) }
        return catalogue
    }
}

/// The station's user database (getpwnam), for `user =` identities.
@Sendable func lookupUser(_ name: String) -> UInt32? {
    guard let pw = getpwnam(name) else { return nil }
    return pw.pointee.pw_uid
}

func printStderr(_ s: String) {
    guard !s.isEmpty else { return }
    // Write straight to fd 2: the C `stderr` global is not concurrency-safe in Swift 6.
    var bytes = Array(s.utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + off, $0.count - off) }
        if n <= 0 { break }
        off += n
    }
}
