// The pthreads behind model threads: a semaphore baton per thread and a reusable pool.
//
// Baton passing: each worker parks on its own semaphore; the model thread that holds
// the baton decides who runs next, posts that thread's semaphore and then waits on its
// own. Exactly one model thread runs at any moment, and each post/wait pair is a
// happens-before edge (for the memory model and for ThreadSanitizer), so everything
// one model thread wrote is visible to the next one without further locking.
//
// Workers are reused across executions: `pthread_create` costs ~20 µs, more than a
// whole toy execution, so a finished model thread returns its worker to the pool.

import CMMSupport
import MMSync
#if canImport(Glibc)
import Glibc
#endif

/// A counting semaphore used as a one-shot go signal.
final class Baton: @unchecked Sendable {
    // @unchecked: sem_t is designed to be shared between threads.
    private let sem: UnsafeMutablePointer<sem_t>

    init() {
        sem = .allocate(capacity: 1)
        sem_init(sem, 0, 0)
    }
    deinit {
        sem_destroy(sem)
        sem.deallocate()
    }

    @inline(__always) func post() { sem_post(sem) }

    @inline(__always) func wait() {
        while sem_wait(sem) != 0 {
            // Only EINTR can happen on a valid semaphore; anything else is a bug here.
            precondition(errno == EINTR, "Baton.wait: sem_wait failed with errno \(errno)")
        }
    }
}

/// pthread_create's refusal (its error number).
struct ThreadStartFailure: Error {
    let code: Int32
}

/// A pthread pinned to CPU 0 that runs model-thread bodies handed to it.
final class Worker: @unchecked Sendable {
    // @unchecked: `assignment` is written only by the model thread holding the baton,
    // before it posts `baton`, and read by this worker only after that post.

    /// One model thread's work.
    struct Job {
        let threadID: Int
        let context: SchedulerContext
        let body: @Sendable () -> Void
        let explorer: Explorer
    }
    enum Assignment {
        case run(Job)
        case quit
    }

    /// Default stack of model threads: deep mm call chains in debug builds need room.
    static let stackSize = 8 << 20

    let baton = Baton()
    var assignment: Assignment?

    private init() {}

    /// Creates a parked worker, or returns pthread_create's error when the host refuses
    /// a thread (a process limit; the explorer ends the execution with a thread-limit
    /// error, see Explorer.createThread).
    static func start() -> Result<Worker, ThreadStartFailure> {
        let worker = Worker()
        let box = Unmanaged.passRetained(worker)
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attr, stackSize)
        var handle = pthread_t()
        let rc = pthread_create(&handle, &attr, { raw in
            let worker = Unmanaged<Worker>.fromOpaque(raw!).takeRetainedValue()
            worker.main()
            return nil
        }, box.toOpaque())
        if rc != 0 {
            box.release()
            return .failure(ThreadStartFailure(code: rc))
        }
        return .success(worker)
    }

    private func main() {
        // One CPU for every model thread: a handoff then costs ~2 µs instead of
        // waking an idle vCPU (10–25 µs). Failure (a restricted cpuset) only costs speed.
        _ = mm_pin_to_cpu(0)
        while true {
            baton.wait()
            guard let next = assignment else { continue }
            assignment = nil
            switch next {
            case .quit:
                return
            case .run(let job):
                run(job)
            }
        }
    }

    private func run(_ job: Job) {
        let explorer = job.explorer
        let id = job.threadID
        Sched.install(job.context)
        job.body()
        Sched.install(nil)
        // Back in the pool; hands the baton on. After this returns, another model
        // thread runs: this worker touches nothing shared until posted again.
        explorer.threadFinished(id, worker: self)
    }

    /// Parks the calling worker for good: its execution ended while it was blocked
    /// (deadlock, step bound, strategy error). Nothing posts it again.
    func parkForever() -> Never {
        while true { baton.wait() }
    }
}
