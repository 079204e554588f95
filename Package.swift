// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "dronewall",
    products: [
        .executable(name: "dronewall", targets: ["dronewall"]),
        .executable(name: "dronewalld", targets: ["dronewalld"]),
        // libFuzzer targets (scripts/fuzz.sh builds them with -sanitize=fuzzer); in a plain
        // build they are replay tools: `dns-fuzz FILE...` runs files through the target.
        .executable(name: "dns-fuzz", targets: ["dns-fuzz"]),
        .executable(name: "config-fuzz", targets: ["config-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // C boundary: libnftnl + libmnl, plus a few shims for macros Swift cannot import.
        .systemLibrary(
            name: "CNetfilter",
            pkgConfig: "libnftnl",
            providers: [.apt(["libnftnl-dev", "libmnl-dev"])]
        ),
        // Plain-config and catalogue parser with file:line:col diagnostics. Pure Swift.
        // Addresses, networks and MACs: parse and print. Shared vocabulary of config and IR.
        .target(name: "NetAddress"),
        // A place in a config or catalogue file: carried from the reader through the IR to kernel errors.
        .target(name: "SourcePlaces"),
        // Durations and byte sizes as people write them (config and command line).
        .target(name: "Units"),
        .target(name: "DronewallConfig", dependencies: ["NetAddress", "SourcePlaces", "Units"]),
        // Strict DNS message parsing and the responses the station's resolver makes. Pure Swift, no Foundation.
        .target(name: "DNSWire"),
        // Ruleset IR in kernel vocabulary and its nft text rendering. Pure Swift.
        .target(name: "NftModel", dependencies: ["NetAddress", "SourcePlaces"]),
        // The runtime contract of table inet dronewall: object names and their parsers, mark
        // layout, resolver ports, log prefixes. Written by the compiler, read by the runtime.
        .target(name: "KernelLayout", dependencies: ["DronewallConfig"]),
        // Validated policy model + compiler: config + catalogue -> DronePolicy -> Ruleset. Pure, no root.
        .target(name: "DronewallPolicy", dependencies: ["DronewallConfig", "KernelLayout", "NftModel"]),
        // Blocked events -> flow records -> SQLite (GRDB, WAL); report queries and renderings.
        .target(name: "FlowLog", dependencies: ["KernelLayout", "NetAddress", "Units", .product(name: "GRDB", package: "GRDB.swift"),
                                                .product(name: "GRDBSQLite", package: "GRDB.swift")]),
        // The only importer of CNetfilter: Ruleset -> one atomic netlink batch.
        .target(name: "Netfilter", dependencies: ["CNetfilter", "NetAddress", "NftModel", "SourcePlaces"]),
        // The station's DNS resolver: which names a drone may reach, and learning their addresses.
        .target(name: "StationResolver", dependencies: [
            "DronewallConfig", "DronewallPolicy", "KernelLayout", "NftModel", "Netfilter", "DNSWire", "FlowLog",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        .executableTarget(
            name: "dronewall",
            dependencies: [
                "DronewallConfig", "DronewallPolicy", "KernelLayout", "NftModel", "Netfilter", "FlowLog", "Control",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The running station (dronewalld's state and lifecycle): apply, NFLOG -> flow log, kernel
        // counters, the resolver service, following a re-apply. Testable with fakes, no root.
        .target(name: "Station", dependencies: [
            "DronewallConfig", "DronewallPolicy", "KernelLayout", "NftModel", "Netfilter", "FlowLog", "StationResolver",
            "NetAddress", "Control", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The daemon's control socket: requests of `dronewall` and the daemon's answers.
        .target(name: "Control", dependencies: ["DronewallConfig", "Netfilter"]),
        // Fakes of the kernel boundary for tests: recording transport, scripted NFLOG socket, namespaces.
        .target(name: "NetfilterTesting", dependencies: ["Netfilter", "NftModel"]),
        .executableTarget(
            name: "dronewalld",
            dependencies: [
                "Station", "DronewallConfig", "FlowLog", "Control",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "dns-fuzz", dependencies: ["DNSWire"], path: "Fuzz/dns-fuzz"),
        .executableTarget(name: "config-fuzz", dependencies: ["DronewallConfig"], path: "Fuzz/config-fuzz"),
        .testTarget(name: "DronewallConfigTests", dependencies: ["DronewallConfig", "NetAddress", "Units"]),
        .testTarget(name: "DronewallPolicyTests", dependencies: ["DronewallPolicy", "DronewallConfig", "KernelLayout", "NftModel"],
                    resources: [.copy("Golden")]),
        .testTarget(name: "NetfilterTests", dependencies: ["Netfilter", "NetfilterTesting", "NftModel", "SourcePlaces"]),
        // Payload goldens: the policy goldens' configs compiled and linearized to libnftnl debug text.
        .testTarget(name: "PayloadGoldenTests", dependencies: ["Netfilter", "DronewallPolicy", "DronewallConfig", "NftModel"]),
        .testTarget(name: "FlowLogTests", dependencies: ["FlowLog", "KernelLayout"]),
        .testTarget(name: "StationResolverTests", dependencies: [
            "StationResolver", "DronewallConfig", "DronewallPolicy", "KernelLayout", "Netfilter", "NftModel", "DNSWire",
            "FlowLog", "NetAddress",
            // FakeSetKernel for LearnerTests, TestNamespace for LearnerKernelTests
            "NetfilterTesting",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "DNSWireTests", dependencies: ["DNSWire"]),
        .testTarget(name: "NetAddressTests", dependencies: ["NetAddress"]),
        .testTarget(name: "ControlTests", dependencies: ["Control"]),
        .testTarget(name: "StationTests", dependencies: [
            "Control",
            "Station", "StationResolver", "NetfilterTesting", "Netfilter", "DronewallPolicy", "DronewallConfig", "KernelLayout", "FlowLog",
            "NftModel",
            "NetAddress",
        ]),
    ]
)
