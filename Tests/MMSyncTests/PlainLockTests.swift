// A PlainLock is invisible to the explorer: holding one across a scheduling point must
// trap (debug builds and under exploration) instead of hanging a search.

import MMSync
import Testing

@Suite struct PlainLockTests {
    @Test func plainLockAroundBookkeepingIsFine() {
        let l = PlainLock()
        var n = 0
        for _ in 0..<100 { l.withLock { n += 1 } }
        PlainLock.assertNoneHeld("after the loop")
        #expect(n == 100)
    }

    #if DEBUG
    @Test func modelLockTakenUnderAPlainLockTraps() async {
        await #expect(processExitsWith: .failure) {
            let plain = PlainLock()
            let model = ModelMutex("inner", rank: .anonVma)
            plain.withLock {
                model.lock()
                model.unlock()
            }
        }
    }

    @Test func waitUnderAPlainLockTraps() async {
        await #expect(processExitsWith: .failure) {
            let plain = PlainLock()
            plain.withLock { PlainLock.assertNoneHeld("a scheduling point") }
        }
    }
    #endif
}
