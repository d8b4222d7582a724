import Foundation
import Logging
import Testing
import XunfangSupervisor

let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Start times (ns) a supervised shell script appended to `file`, one a line.
func starts(in file: String) -> [UInt64] {
    ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { UInt64($0) }
}

@Suite("Supervisor: restarts with back-off", .serialized)
struct SupervisorTests {
    @Test("the delay doubles from the initial one up to the cap; a healthy run starts the count again")
    func policy() {
        var policy = RestartPolicy()
        policy.initialDelay = .milliseconds(250)
        policy.maximumDelay = .seconds(30)
        policy.healthyAfter = .seconds(60)
        #expect((1...9).map { policy.delay(afterFailures: $0) } == [
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30)])
        #expect(policy.delay(afterFailures: 1_000) == .seconds(30))
        #expect(policy.failures(after: 7, ranFor: .seconds(59)) == 8)
        #expect(policy.failures(after: 7, ranFor: .seconds(60)) == 1)
    }

    @Test("a crashing plugin is restarted with growing pauses and counted; exit 78 (refused by the bus) is not restarted")
    func crashing() async throws {
        let directory = NSTemporaryDirectory() + "xf-supervisor-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let log = directory + "/starts"
        var policy = RestartPolicy()
        policy.initialDelay = .milliseconds(20)
        policy.maximumDelay = .milliseconds(160)
        let crasher = SupervisedProcess(name: "crasher", executablePath: "/bin/sh", arguments: ["-c", "date +%s%N >> \(log); exit 3"])
        let refused = SupervisedProcess(name: "refused", executablePath: "/bin/sh", arguments: ["-c", "date +%s%N >> \(log).78; exit 78"])
        let supervisor = Supervisor(processes: [crasher, refused], policy: policy, logger: quiet, output: { _ in })
        let running = Task { try await supervisor.run() }
        while starts(in: log).count < 7 { try await Task.sleep(for: .milliseconds(20)) }
        running.cancel()
        _ = try? await running.value

        let times = starts(in: log)
        let gaps = zip(times.dropFirst(), times).map { Duration.nanoseconds(Int64($0 - $1)) }
        // Each pause is at least the policy's delay for that many failures in a row (never a fixed upper bound: CI may be slow).
        for (index, gap) in gaps.prefix(6).enumerated() {
            #expect(gap >= policy.delay(afterFailures: index + 1), "pause \(index + 1) was \(gap)")
        }
        #expect(gaps[4] >= .milliseconds(160) && gaps[5] >= .milliseconds(160), "capped at the maximum, not below it")
        #expect(supervisor.restarts["crasher"] ?? 0 >= 6)
        #expect(supervisor.restarts["refused"] == nil, "a configuration refusal is not retried")
        #expect(starts(in: log + ".78").count == 1)
    }
}
