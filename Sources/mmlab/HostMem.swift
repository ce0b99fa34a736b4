// `--host-mem SIZE`: the host-memory budget of the simulated machine (MMPhysical's
// HostBudget.swift). Default: half of this host's physical memory.

import ArgumentParser
import MMPhysical

/// Sets the budget from a `--host-mem` value (nil: keep the default).
func applyHostMem(_ value: String?) throws {
    guard let value else { return }
    let bytes = try parseSize(value, "--host-mem")
    guard bytes >= 4 << 20 else { throw ValidationError("--host-mem: '\(value)' is out of range: at least 4M") }
    HostBudget.limitBytes = UInt64(bytes)
}

let hostMemHelp = ArgumentHelp("Host memory the simulated machine may use (descriptors and frame contents), e.g. 8G (default: half of this host's memory).",
                               valueName: "size")
