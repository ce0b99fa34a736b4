// swift-tools-version: 6.0
// mmlab — a user-space laboratory for Linux-style page migration.
import PackageDescription

// Release builds skip the runtime exclusivity checks (swift_beginAccess on every class
// property access: ~11 % of a compaction's time, BENCHMARKS.md). Debug builds, and so
// every test run, keep them.
let fast: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "mmlab",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mmlab", targets: ["mmlab"]),
        .library(name: "MMScenario", targets: ["MMScenario"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Thread-local scheduler slot, CPU pinning, futex-free helpers the Swift side lacks.
        .target(name: "CMMSupport"),
        // The scheduling interface and the model's locks (loom-style: real in normal runs,
        // explorer-controlled in exploration).
        .target(name: "MMSync", dependencies: ["CMMSupport"], swiftSettings: fast),
        // Linux: mm/page_alloc.c, include/linux/mm_types.h, mm/filemap.c (page lock), mm/swap.c (LRU)
        .target(name: "MMPhysical", dependencies: ["MMSync", "CMMSupport"], swiftSettings: fast),
        // Linux: mm/memory.c, mm/mmap.c, mm/mremap.c, kernel/fork.c, mm/rmap.c
        .target(name: "MMSpace", dependencies: ["MMPhysical", "MMSync", "CMMSupport"], swiftSettings: fast),
        // Linux: mm/migrate.c, mm/mempolicy.c
        .target(name: "MMMigrate", dependencies: ["MMSpace", "MMPhysical", "MMSync"], swiftSettings: fast),
        // Linux: mm/compaction.c (the scanners, direct compaction, kcompactd)
        .target(name: "MMCompaction", dependencies: ["MMMigrate", "MMSpace", "MMPhysical", "MMSync"], swiftSettings: fast),
        // Linux: mm/memory_hotplug.c, mm/page_isolation.c (hot-remove of memory blocks)
        .target(name: "MMHotplug", dependencies: ["MMMigrate", "MMSpace", "MMPhysical", "MMSync"], swiftSettings: fast),
        // Invariant checker (docs/ARCHITECTURE.md, Checking)
        .target(name: "MMCheck", dependencies: ["MMSpace", "MMPhysical", "MMSync"], swiftSettings: fast),
        // Deterministic interleaving explorer (docs/ARCHITECTURE.md, The scheduling interface)
        .target(name: "MMExplore", dependencies: ["MMSync", "CMMSupport"], swiftSettings: fast),
        // Scenario files: parser and runner (docs/SCENARIOS.md)
        .target(name: "MMScenario", dependencies: ["MMCompaction", "MMHotplug", "MMMigrate", "MMCheck", "MMSpace", "MMPhysical", "MMSync", "MMExplore", "MMSnapshot"], swiftSettings: fast),
        // gzip through the system zlib (Debian zlib1g-dev), for snapshot files.
        .target(name: "CMMZlib", linkerSettings: [.linkedLibrary("z")]),
        // A real machine's physical memory map: /proc readers, PFN classification (docs/SNAPSHOT.md)
        .target(name: "MMSnapshot", dependencies: ["CMMZlib", "CMMSupport"], swiftSettings: fast),
        .executableTarget(name: "mmlab", dependencies: [
            "MMSnapshot",
            "MMScenario", "MMHotplug", "MMExplore", "MMCheck", "MMCompaction", "MMMigrate", "MMSpace", "MMPhysical", "MMSync",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fast),
        .testTarget(name: "MMSyncTests", dependencies: ["MMSync"]),
        .testTarget(name: "MMPhysicalTests", dependencies: ["MMPhysical", "MMSync", "CMMSupport"]),
        .testTarget(name: "MMSpaceTests", dependencies: ["MMSpace", "MMCheck", "MMPhysical", "MMSync"]),
        .testTarget(name: "MMMigrateTests", dependencies: ["MMMigrate", "MMSpace", "MMCheck", "MMPhysical", "MMSync"]),
        .testTarget(name: "MMCompactionTests", dependencies: ["MMCompaction", "MMHotplug", "MMScenario", "MMExplore", "MMMigrate", "MMSpace", "MMCheck", "MMPhysical", "MMSync"]),
        .testTarget(name: "MMHotplugTests", dependencies: ["MMHotplug", "MMMigrate", "MMSpace", "MMCheck", "MMPhysical", "MMSync"]),
        .testTarget(name: "MMExploreTests", dependencies: ["MMExplore", "MMSync", "MMScenario"]),
        .testTarget(name: "MMSnapshotTests", dependencies: ["MMSnapshot", "MMScenario", "MMCheck", "MMCompaction", "MMSpace", "MMPhysical"], exclude: ["Fixtures"]),
        .testTarget(name: "MMScenarioTests", dependencies: ["MMScenario", "MMCheck", "MMExplore", "MMSync"]),
    ],
    swiftLanguageModes: [.v6]
)
