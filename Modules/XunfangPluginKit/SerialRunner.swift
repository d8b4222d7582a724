import Synchronization

/// Runs async jobs one after another, in the order they were given: each waits for the one
/// before it, across its awaits (an actor would let them interleave at every await).
/// For work that must not overlap with itself, such as deciding what was already sent.
public final class SerialRunner: Sendable {
    private let last = Mutex<Task<Void, Never>?>(nil)

    public init() {}

    public func run<T: Sendable>(_ job: @escaping @Sendable () async throws -> T) async throws -> T {
        let task: Task<T, any Error> = last.withLock { last in
            let previous = last
            let task = Task<T, any Error> {
                await previous?.value
                return try await job()
            }
            last = Task { _ = try? await task.value }
            return task
        }
        return try await task.value
    }
}
