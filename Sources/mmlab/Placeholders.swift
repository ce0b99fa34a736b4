import ArgumentParser
struct Explore: ParsableCommand { func run() throws { throw ValidationError("explore: not built yet") } }
struct Replay: ParsableCommand { func run() throws { throw ValidationError("replay: not built yet") } }
struct Bench: ParsableCommand { func run() throws { throw ValidationError("bench: not built yet") } }
