// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "dronewall",
    products: [
        .executable(name: "dronewall", targets: ["dronewall"]),
        .executable(name: "dronewalld", targets: ["dronewalld"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
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
        .target(name: "DronewallConfig", dependencies: ["NetAddress"]),
        // Ruleset IR in kernel vocabulary and its nft text rendering. Pure Swift.
        .target(name: "NftModel", dependencies: ["NetAddress"]),
        // Validated policy + catalogue -> Ruleset. Pure function, no root.
        .target(name: "DronewallPolicy", dependencies: ["DronewallConfig", "NftModel"]),
        // The only importer of CNetfilter: Ruleset -> one atomic netlink batch.
        .target(name: "Netfilter", dependencies: ["CNetfilter", "NftModel"]),
        .executableTarget(
            name: "dronewall",
            dependencies: [
                "DronewallConfig", "DronewallPolicy", "NftModel", "Netfilter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "dronewalld",
            dependencies: ["DronewallConfig", "DronewallPolicy", "NftModel", "Netfilter"]
        ),
        .testTarget(name: "DronewallConfigTests", dependencies: ["DronewallConfig", "NetAddress"]),
        .testTarget(name: "DronewallPolicyTests", dependencies: ["DronewallPolicy", "DronewallConfig", "NftModel"],
                    resources: [.copy("Golden")]),
        .testTarget(name: "NetfilterTests", dependencies: ["Netfilter", "NftModel"]),
    ]
)
