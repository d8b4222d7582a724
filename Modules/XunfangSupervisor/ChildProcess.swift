import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A spawned child with default signal handling and its stdout and stderr on one pipe.
///
/// Foundation's `Process` passes on the parent's ignored signals, and a service that
/// handles SIGTERM itself (swift-service-lifecycle) ignores it at the OS level: children
/// spawned that way could not be stopped with SIGTERM. posix_spawn with every signal
/// reset to default and an empty mask gives each plugin a clean start.
struct ChildProcess {
    struct SpawnError: Error, CustomStringConvertible {
        let description: String
    }

    let pid: pid_t
    /// Read end of the child's stdout + stderr.
    let output: FileHandle

    /// The descriptor a child finds its supervisor's watchdog pipe on (`XUNFANG_SUPERVISOR_FD`).
    static let watchdogDescriptor: Int32 = 3

    /// Spawns `path`. The child gets stdin from /dev/null, stdout and stderr on one pipe,
    /// `watchdog` (a pipe's read end) as descriptor 3, and no other descriptor of ours:
    /// a listening socket or log file inherited by a plugin would outlive this process.
    static func spawn(path: String, arguments: [String], environment: [String: String], watchdog: Int32) throws -> ChildProcess {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw SpawnError(description: "pipe: errno \(errno)") }
        // Neither end may leak into other children; the dup2 below gives this child its copy.
        _ = fcntl(pipeFDs[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pipeFDs[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, watchdog, watchdogDescriptor)
        closeInChild(&actions, from: watchdogDescriptor + 1)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        // Its own process group, so a terminal's Ctrl-C reaches `xunfang up` alone,
        // which then stops the plugins in order.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        close(pipeFDs[1])
        guard result == 0 else {
            close(pipeFDs[0])
            throw SpawnError(description: "cannot start \(path): \(String(cString: strerror(result)))")
        }
        return ChildProcess(pid: pid, output: FileHandle(fileDescriptor: pipeFDs[0], closeOnDealloc: true))
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc
    /// module does not declare.
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// Closes every descriptor from `lowest` up in the child; where glibc is older, those
    /// open now, as listed in /proc/self/fd.
    private static func closeInChild(_ actions: inout posix_spawn_file_actions_t, from lowest: Int32) {
        if let addCloseFrom, addCloseFrom(&actions, lowest) == 0 { return }
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
        for descriptor in open where descriptor >= lowest && fcntl(descriptor, F_GETFD) >= 0 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
    }

    /// Blocks a thread (not the cooperative pool) until the child exits; returns its
    /// exit status, or 128 + signal number when a signal ended it (shell convention).
    func waitForExit() async -> Int32 {
        await withCheckedContinuation { continuation in
            let pid = self.pid
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let signal = status & 0x7F
                continuation.resume(returning: signal == 0 ? (status >> 8) & 0xFF : 128 + signal)
            }
        }
    }
}
