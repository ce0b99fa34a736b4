// Starting real threads when the host may refuse them (a process limit such as
// `ulimit -u`, or a cgroup's pids.max): every thread of a group is created before any
// body runs, so a refusal leaves nothing half-done — the threads already created are
// told to return without running their bodies and are joined, and the caller gets an
// error naming the limit.

#if canImport(Glibc)
import Glibc
#endif

/// The host refused a thread.
public struct ThreadStartError: Error, Sendable, Equatable, CustomStringConvertible {
    /// How many threads the group needed, and the 0-based index of the refused one.
    public let wanted: Int, index: Int
    /// pthread_create's error number (EAGAIN: a thread or process limit).
    public let code: Int32
    public init(wanted: Int, index: Int, code: Int32) {
        self.wanted = wanted
        self.index = index
        self.code = code
    }
    public var description: String {
        let why = code == EAGAIN
            ? "the host's thread limit is reached: ulimit -u / RLIMIT_NPROC, or a cgroup's pids.max"
            : String(cString: strerror(code))
        return "cannot start thread \(index + 1) of \(wanted): pthread_create failed (\(why)); nothing of this group ran"
    }
}

/// Go signal shared by the threads of one group (a counting semaphore posted once per
/// thread, after all are created or one was refused).
private final class StartGate: @unchecked Sendable {
    // @unchecked: `cancelled` is written before the posts and read after a wait.
    private let sem: UnsafeMutablePointer<sem_t>
    var cancelled = false
    init() {
        sem = .allocate(capacity: 1)
        sem_init(sem, 0, 0)
    }
    deinit {
        sem_destroy(sem)
        sem.deallocate()
    }
    func open(_ n: Int) { for _ in 0..<n { sem_post(sem) } }
    func wait() { while sem_wait(sem) != 0 {} }   // only EINTR can fail a valid semaphore
}

extension ModelThreads {
    /// Like `runConcurrently`, but reports a refused thread instead of trapping: the
    /// group then runs no body at all. Under exploration the explorer owns thread
    /// creation (it ends the execution with an error if it cannot get one).
    public static func tryRunConcurrently(_ threads: [(name: String, body: @Sendable () -> Void)]) throws(ThreadStartError) {
        if Sched.current != nil {
            runConcurrently(threads)
            return
        }
        let gate = StartGate()
        var handles: [pthread_t] = []
        handles.reserveCapacity(threads.count)
        var refused: ThreadStartError?
        for (i, t) in threads.enumerated() {
            let body = t.body
            let box = Unmanaged.passRetained(ThreadBody { gate.wait(); if !gate.cancelled { body() } })
            var handle = pthread_t()
            let rc = pthread_create(&handle, nil, { raw in
                let body = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
                body.run()
                return nil
            }, box.toOpaque())
            if rc != 0 {
                box.release()
                refused = ThreadStartError(wanted: threads.count, index: i, code: rc)
                break
            }
            handles.append(handle)
        }
        gate.cancelled = refused != nil
        gate.open(handles.count)
        for h in handles { pthread_join(h, nil) }
        if let refused { throw refused }
    }
}
