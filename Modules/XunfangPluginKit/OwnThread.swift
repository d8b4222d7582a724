import Foundation

/// Runs `work` on a thread of its own and awaits its result. For computations that take
/// seconds (optimisation, many searches): on Swift concurrency's few threads (one per core)
/// they would make every other call and the plugin's own pings wait behind them.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}
