import ArgumentParser
struct Explore: ParsableCommand { func run() throws { throw ValidationError("explore: not built yet") } }
struct Replay: ParsableCommand { func run() throws { throw ValidationError("replay: not built yet") } }
func exploreBenchmarks(quick: Bool, _ add: (String, Double, String) -> Void) {}
