import DronewallConfig
import NftModel
#if canImport(Glibc)
import Glibc
#endif

/// Reads the config and the catalogue and compiles them: the one path the CLI and the
/// daemon share, so both enforce exactly the same thing for the same files.
public struct PolicyLoader {
    public static let defaultCatalogueDirectories = CatalogueReader.defaultDirectories

    public var configPath: String
    public var catalogueDirectories: [String]
    /// True when the directories were named by the user (each must exist).
    public var catalogueRequired: Bool
    public var reader: SourceReader
    public var resolveUser: PolicyModel.UserResolver

    public init(configPath: String, catalogueDirectories: [String], reader: SourceReader = DiskReader(),
                resolveUser: @escaping PolicyModel.UserResolver = SystemUsers.uid(named:)) {
        self.configPath = configPath
        self.catalogueDirectories = catalogueDirectories.isEmpty ? PolicyLoader.defaultCatalogueDirectories
                                                                 : catalogueDirectories
        self.catalogueRequired = !catalogueDirectories.isEmpty
        self.reader = reader
        self.resolveUser = resolveUser
    }

    /// What a load produced: the snapshot (nil when `diagnostics` has errors), and the config
    /// and catalogue as read, for commands that show them even when they do not compile.
    public struct Outcome: Sendable {
        public var snapshot: PolicySnapshot?
        public var config: Config
        public var catalogue: Catalogue
        public var diagnostics: Diagnostics
    }

    public func load() -> Outcome {
        let (catalogue, catDiags) = CatalogueReader(reader: reader).read(directories: catalogueDirectories,
                                                                        required: catalogueRequired)
        let (config, confDiags) = ConfigReader(reader: reader).read(mainPath: configPath)
        var diags = Diagnostics()
        diags.append(contentsOf: catDiags)
        diags.append(contentsOf: confDiags)
        // Without a catalogue, local-data and allowlist would recognise no vendor endpoint and
        // block nothing (or everything): refuse rather than fail open.
        let needsCatalogue = config.drones.contains { [.localData, .allowlist, .monitor].contains($0.policy?.value) }
            || [.localData, .allowlist, .monitor].contains(config.station.unknownDevicesPolicy)
        if catalogue.endpoints.isEmpty && !catDiags.hasErrors {
            let msg = "no vendor catalogue found in \(catalogueDirectories.joined(separator: ", "))"
            if needsCatalogue {
                diags.error(msg + ": policies local-data, allowlist and monitor need one (install the package's "
                            + "catalogue or pass --catalogue DIR)", at: nil)
            } else {
                diags.warning(msg + ": no manufacturer endpoint will be recognised", at: nil)
            }
        }
        var snapshot: PolicySnapshot?
        if !diags.hasErrors {
            let resolvConf = reader.read(ResolvConf.defaultPath)
            let nameservers = (try? resolvConf.get()).map(ResolvConf.nameservers(in:)) ?? []
            snapshot = PolicySnapshot.build(config: config, catalogue: catalogue, resolveUser: resolveUser,
                                            stationNameservers: nameservers, into: &diags)
        }
        return Outcome(snapshot: diags.hasErrors ? nil : snapshot, config: config, catalogue: catalogue, diagnostics: diags)
    }
}

/// The station's user database.
public enum SystemUsers {
    /// getpwnam(3): the uid of a user name, or nil when there is no such user.
    @Sendable public static func uid(named name: String) -> UInt32? {
        guard let pw = getpwnam(name) else { return nil }
        return pw.pointee.pw_uid
    }
}
