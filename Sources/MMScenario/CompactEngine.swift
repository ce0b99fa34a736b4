// The one place `mmlab compact` and the demo touch the compaction engine (module
// MMCompaction, issue 9 items 2–5) and the zone topology. Everything else in the report,
// the fragmenters and the pictures is written against the model as it stands.

import MMPhysical
import MMSpace

/// What one compaction request did, zone by zone.
public struct CompactionRun: Sendable {
    public var zones: [ZoneCompaction]
    /// Wall-clock seconds the request took.
    public var seconds: Double
}

/// The compaction entry points as the report uses them.
public enum CompactEngine {
    /// Why the engine cannot run in this build, or nil. UNFINISHED until MMCompaction is
    /// merged: callers must then say that no compaction ran, never print a result.
    public static var unavailable: String? {
        "the compaction engine (module MMCompaction) is not in this build yet"
    }

    /// Runs the compaction `o` asks for on a quiet, fragmented machine, or nil when the
    /// engine is unavailable.
    public static func run(_ m: Machine, _ o: CompactOptions) -> CompactionRun? {
        nil
    }

    /// Linux: compact_memory — every zone of every node, order -1, sync; nil when the
    /// engine is unavailable. May run while processes work.
    public static func compactMemory(_ m: Machine) -> [ZoneCompaction]? {
        nil
    }

    /// Starts one kcompactd per node and returns the function that stops them, or nil
    /// when the engine is unavailable.
    public static func startKcompactd(_ m: Machine) -> (() -> Void)? {
        nil
    }

    /// The zone's name as /proc/zoneinfo prints it.
    public static func zoneName(_ z: Zone) -> String { z.name }

    /// Pages of the zone backed by memory (Linux: zone->present_pages).
    public static func presentPages(_ z: Zone) -> Int { z.presentPages }

}
