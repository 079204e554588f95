import ArgumentParser
import DronewallConfig
import DronewallPolicy
import NftModel

/// Reading config + catalogue and compiling them, with diagnostics on stderr.
enum Loading {
    /// The validated and compiled policy, or an exit with code 65 after printing every error.
    static func compile(_ options: SourceOptions) throws -> PolicySnapshot { try load(options).snapshot }

    /// The policy with the diagnostics it was read with (they hold the source lines, so a later
    /// kernel error can show the line that produced the refused object).
    static func load(_ options: SourceOptions) throws -> (snapshot: PolicySnapshot, diagnostics: Diagnostics) {
        let result = PolicyLoader(configPath: options.config, catalogueDirectories: options.catalogue).load()
        printStderr(result.diagnostics.rendered)
        guard let snapshot = result.snapshot else {
            let n = result.diagnostics.errors.count
            printStderr("dronewall: \(n) error\(n == 1 ? "" : "s"); nothing was changed\n")
            throw ExitCode(ExitCodes.dataError)
        }
        return (snapshot, result.diagnostics)
    }

    static func catalogue(_ options: SourceOptions) throws -> Catalogue {
        let dirs = options.catalogue.isEmpty ? PolicyLoader.defaultCatalogueDirectories : options.catalogue
        let (catalogue, diags) = CatalogueReader().read(directories: dirs)
        printStderr(diags.rendered)
        if diags.hasErrors { throw ExitCode(ExitCodes.dataError) }
        return catalogue
    }
}

func printStderr(_ s: String) { StandardError.write(s) }
