public import CoreMetrics
public import Logging
public import ServiceLifecycle
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One plugin process to keep running.
public struct SupervisedProcess: Sendable, Hashable {
    public var name: String
    public var executablePath: String
    public var arguments: [String]
    public var environment: [String: String]

    public init(name: String, executablePath: String, arguments: [String] = [], environment: [String: String] = [:]) {
        self.name = name
        self.executablePath = executablePath
        self.arguments = arguments
        self.environment = environment
    }
}

/// Restart policy: exponential back-off, reset after a healthy run.
public struct RestartPolicy: Sendable {
    public var initialDelay: Duration = .milliseconds(250)
    public var maximumDelay: Duration = .seconds(30)
    /// A run this long counts as healthy and resets the back-off.
    public var healthyAfter: Duration = .seconds(60)
    /// How long a plugin gets to stop after SIGTERM before SIGKILL.
    public var stopTimeout: Duration = .seconds(5)
    public init() {}

    public func delay(afterFailures failures: Int) -> Duration {
        var delay = initialDelay
        for _ in 1..<max(1, failures) where delay < maximumDelay { delay = delay * 2 }
        return min(delay, maximumDelay)
    }

    /// Failures in a row after a run of `ranFor` that ended: a healthy run starts the count again.
    public func failures(after previous: Int, ranFor: Duration) -> Int {
        ranFor >= healthyAfter ? 1 : previous + 1
    }
}

/// Spawns plugin executables, mirrors their output with the plugin's name, restarts
/// them with back-off when they crash, and stops them gracefully (SIGTERM, then SIGKILL).
/// A plugin crash never takes the bus or another plugin down.
public final class Supervisor: Service, Sendable {
    private let processes: [SupervisedProcess]
    private let policy: RestartPolicy
    private let logger: Logger
    private let running = Mutex<[String: pid_t]>([:])
    private let restartCounts = Mutex<[String: Int]>([:])
    /// Where mirrored output goes; stderr by default.
    private let output: @Sendable (String) -> Void
    private let metrics: (any MetricsFactory)?
    /// Every plugin holds the read end; only this process holds the write end, so when
    /// this process dies, however it dies, each plugin reads end-of-file and stops
    /// (`XUNFANG_SUPERVISOR_FD`). Never closed: it lives as long as the supervisor.
    private let watchdog: (read: Int32, write: Int32)

    /// `metrics` receives `xunfang_supervisor_restarts_total{plugin}`; without it the
    /// process-wide swift-metrics backend does.
    public init(processes: [SupervisedProcess], policy: RestartPolicy = RestartPolicy(), logger: Logger,
                metrics: (any MetricsFactory)? = nil, output: (@Sendable (String) -> Void)? = nil) {
        self.metrics = metrics
        self.processes = processes
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        }
        self.watchdog = (ends[0], ends[1])
        self.policy = policy
        self.logger = logger
        self.output = output ?? { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    private func restartCounter(_ plugin: String) -> Counter {
        let label = "xunfang_supervisor_restarts_total"
        let dimensions = [("plugin", plugin)]
        if let metrics { return Counter(label: label, dimensions: dimensions, factory: metrics) }
        return Counter(label: label, dimensions: dimensions)
    }

    /// How many times each plugin has been restarted.
    public var restarts: [String: Int] { restartCounts.withLock { $0 } }

    /// Process ids of the running plugins (for tests and `ctl stats`).
    public var pids: [String: Int32] { running.withLock { $0 } }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for process in processes {
                    group.addTask { await self.keepRunning(process) }
                }
            }
        } onGracefulShutdown: {
            self.stopAll()
        }
    }

    private func keepRunning(_ spec: SupervisedProcess) async {
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let started = ContinuousClock.now
            let status: Int32
            do {
                status = try await runOnce(spec)
            } catch {
                logger.error("cannot start plugin", metadata: ["xunfang.plugin": "\(spec.name)", "xunfang.error": "\(error)"])
                status = -1
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            if status == 78 {
                logger.error("plugin refused by the bus (configuration error); not restarting", metadata: ["xunfang.plugin": "\(spec.name)"])
                return
            }
            failures = policy.failures(after: failures, ranFor: ContinuousClock.now - started)
            let delay = policy.delay(afterFailures: failures)
            logger.warning("plugin exited; restarting", metadata: [
                "xunfang.plugin": "\(spec.name)", "xunfang.status": "\(status)", "xunfang.delay": "\(delay)"])
            restartCounts.withLock { $0[spec.name, default: 0] += 1 }
            restartCounter(spec.name).increment()
            try? await Task.sleep(for: delay)
        }
    }

    private func runOnce(_ spec: SupervisedProcess) async throws -> Int32 {
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in spec.environment { environment[key] = value }
        guard watchdog.read >= 0 else { throw ChildProcess.SpawnError(description: "cannot create the supervisor's watchdog pipe") }
        environment["XUNFANG_SUPERVISOR_FD"] = "\(ChildProcess.watchdogDescriptor)"
        let child = try ChildProcess.spawn(path: spec.executablePath, arguments: spec.arguments, environment: environment,
                                           watchdog: watchdog.read)
        running.withLock { $0[spec.name] = child.pid }
        logger.info("plugin started", metadata: ["xunfang.plugin": "\(spec.name)", "xunfang.pid": "\(child.pid)"])
        let mirror = LineMirror(prefix: "[\(spec.name)] ", output: output)
        let reader = Thread {
            // Reading to EOF ends when the child and anything it spawned close the pipe.
            while true {
                let data = child.output.availableData
                if data.isEmpty { break }
                mirror.feed(data)
            }
            mirror.finish()
        }
        reader.start()
        let status = await child.waitForExit()
        running.withLock { _ = $0.removeValue(forKey: spec.name) }
        return status
    }

    /// SIGTERM to every plugin, SIGKILL to those still alive after the stop timeout.
    private func stopAll() {
        let pids = running.withLock { Array($0.values) }
        for pid in pids { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + policy.stopTimeout
        Thread.detachNewThread { [self] in
            while ContinuousClock.now < deadline, running.withLock({ !$0.isEmpty }) { usleep(20_000) }
            for pid in running.withLock({ Array($0.values) }) { kill(pid, SIGKILL) }
        }
    }
}

/// Splits a byte stream into lines and writes each with a prefix.
final class LineMirror: Sendable {
    private let prefix: String
    private let output: @Sendable (String) -> Void
    private let pending = Mutex(Data())

    init(prefix: String, output: @escaping @Sendable (String) -> Void) {
        self.prefix = prefix
        self.output = output
    }

    func feed(_ data: Data) {
        let lines: [String] = pending.withLock { buffer in
            buffer.append(data)
            var lines: [String] = []
            while let newline = buffer.firstIndex(of: 0x0A) {
                lines.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                buffer.removeSubrange(buffer.startIndex...newline)
            }
            return lines
        }
        for line in lines { output(prefix + line) }
    }

    func finish() {
        let rest = pending.withLock { buffer in
            defer { buffer.removeAll() }
            return buffer
        }
        if !rest.isEmpty { output(prefix + String(decoding: rest, as: UTF8.self)) }
    }
}
