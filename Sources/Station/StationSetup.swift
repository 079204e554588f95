import DronewallConfig
import DronewallPolicy
import FlowLog
import KernelLayout
import Netfilter
import StationResolver

/// Where a station keeps its state and reads its policy.
public struct StationOptions: Sendable {
    public var configPath: String
    public var catalogueDirectories: [String]
    public var databasePath: String
    /// Members of this group may read reports.
    public var group: String

    public init(configPath: String = ConfigReader.defaultPath, catalogueDirectories: [String] = [],
                databasePath: String = FlowStore.defaultPath, group: String = "dronewall") {
        self.configPath = configPath
        self.catalogueDirectories = catalogueDirectories
        self.databasePath = databasePath
        self.group = group
    }

    /// Where the sources of the last policy the kernel accepted are kept (see `LastKnownGood`).
    public var lastKnownGoodPath: String { LogFiles.sibling(of: databasePath, named: "last-good") }

    /// Reads and compiles config and catalogue.
    public func load() -> PolicyLoader.Outcome {
        PolicyLoader(configPath: configPath, catalogueDirectories: catalogueDirectories).load()
    }
}

extension Station {
    /// Applies `snapshot` and returns (`dronewalld --once`: no flow log, no resolver).
    public static func applyOnce(_ snapshot: PolicySnapshot, log: (LogLevel, String) -> Void) throws(StationError) {
        do {
            let client = NftablesClient(transport: try KernelTransport(), table: KernelLayout.tableName)
            let running = try client.instance(policyChain: KernelLayout.policyChain)
            _ = try client.apply(snapshot.avoidingGeneration(of: running.flatMap {
                PolicyComment(chainComment: $0.policyComment, tableComment: $0.tableComment)
            }).ruleset)
        } catch {
            throw .kernel("applying table inet \(snapshot.ruleset.table.name) failed", error)
        }
        log(.notice, "applied table inet \(snapshot.ruleset.table.name) for \(snapshot.config.drones.count) drone(s)")
    }

    /// The station on this machine: the flow log's files, its lock, the NFLOG group, the kernel.
    /// Everything that can tell "another daemon is running" comes first, before the caller
    /// starts the station and replaces the table (which resets the counters the other one reads).
    public static func open(_ snapshot: PolicySnapshot, options: StationOptions,
                            log: @escaping @Sendable (LogLevel, String) -> Void) throws(StationError) -> Station {
        let db = options.databasePath
        if let problem = LogFiles.prepare(databasePath: db, group: options.group, log: { log(.warning, $0) })
            ?? DaemonLock.take(databasePath: db) {
            throw .busy(problem)
        }
        let group = snapshot.config.station.logGroup
        let reader: NflogReader
        do {
            reader = try NflogReader(group: group)
        } catch {
            throw .kernel("cannot read NFLOG group \(group); nothing was changed", error)
        }
        let store: FlowStore
        let last: FlowStore.CounterReading?
        do {
            store = try FlowStore(path: db, log: { log(.notice, $0) })
            LogFiles.shareFiles(databasePath: db, group: options.group) // -wal and -shm now exist (and are kept)
            last = try store.lastCounterReading()
        } catch {
            throw .store("cannot open the flow log \(db): \(error)")
        }
        // One socket writes the table: it owns it (the kernel takes changes to an owned table
        // from that socket only), so the resolver's learner writes through it too.
        let writer: SharedTransport
        let monitor: NftablesMonitor
        do {
            let socket = try KernelTransport()
            writer = SharedTransport(socket)
            monitor = try NftablesMonitor(table: KernelLayout.tableName, ownPortID: socket.portID)
        } catch {
            throw .kernel("cannot open a netlink socket", error)
        }
        let kernel = NftablesClient(transport: writer, table: KernelLayout.tableName)
        kernel.ownership = .ownedAndPersistent
        var parts = Parts(
            kernel: kernel, nflog: reader, writer: FlowWriter(store: store, log: { log(.warning, $0) }), databasePath: db,
            lastCounterReading: last,
            startResolver: { snapshot in try ResolverService.start(snapshot, tableWriter: writer, clock: systemMicros) },
            log: log)
        parts.heldAddressesPath = LogFiles.sibling(of: db, named: "held-addresses")
        parts.foreignChanges = { monitor.take() }
        return Station(snapshot: snapshot, parts: parts)
    }
}
