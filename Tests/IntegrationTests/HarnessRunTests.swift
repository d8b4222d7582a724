import Foundation
import Testing

/// Out of process: `xunfang harness run` on CI's scenario, the whole stack as processes on
/// one simulated clock with Situation frozen past the bus's patience, Dispatch's connection
/// dropped, the bus's log disk full, Patrol slowed, and a kill -9 of each plugin and of the bus.
@Suite("Out of process: the harness runs CI's scenario")
struct HarnessRunTests {
    @Test("scenarios/ci-hour.yaml: a simulated hour at 60 times real speed, every call stored once and dispatched, the frozen Situation caught up, the dropped Dispatch reconnected, the full log disk's refused writes published again, the slowed Patrol serving on, every killed plugin and the killed bus back, all of it on the simulated clock")
    func ciHour() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let out = NSTemporaryDirectory() + "xf-harness-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: out) }
        // The full disk needs a tmpfs of the log's own (root may mount); where mounting is
        // not allowed the same hour runs without that one fault, and says so.
        var scenario = "\(root)/scenarios/ci-hour.yaml"
        let mounts = Self.mayMount()
        if !mounts {
            let text = try String(contentsOfFile: scenario, encoding: .utf8)
            scenario = "\(out)-ci-hour.yaml"
            try text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("full_disk") }.joined(separator: "\n")
                .write(toFile: scenario, atomically: true, encoding: .utf8)
            print("harness: this machine may not mount a tmpfs; ci-hour runs without its full-disk fault")
        }
        let (status, output) = try await run(["harness", "run", scenario, "--out", out], in: root, withErrors: true)
        #expect(status == 0, "\(output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/report.json"))) as? [String: Any])
        #expect(report["passed"] as? Bool == true, "\(output)")
        let checks = report["checks"] as? [[String: Any]] ?? []
        #expect(checks.count >= 8 && checks.allSatisfy { $0["passed"] as? Bool == true }, "\(checks)")
        let facts = try #require(report["facts"] as? [String: Any])
        let calls = facts["calls"] as? [[String: Any]] ?? []
        #expect(calls.count >= 10, "three times an evening hour's calls: \(calls.count)")
        let faults = facts["faults"] as? [[String: Any]] ?? []
        #expect(faults.count == (mounts ? 11 : 10) && faults.allSatisfy { ($0["recoveredAt"] as? Int64 ?? 0) > 0 },
                "Situation frozen, Dispatch dropped, the log disk full, Patrol slowed, six plugins and the bus killed, each back: \(faults)")
        #expect(faults.first { $0["kind"] as? String == "slow" }?["detail"] as? String == "the same process served on", "the slowed Patrol lived through it: \(faults)")
        #expect(faults.map { $0["kind"] as? String ?? "" }.prefix(3) == (mounts ? ["freeze", "full-disk", "drop"] : ["freeze", "drop", "kill"]), "\(faults)")
        #expect(faults.first?["plugin"] as? String == "situation" && faults.last?["plugin"] as? String == "bus")
        if mounts {
            let refused = faults.first { $0["kind"] as? String == "full-disk" }?["detail"] as? String ?? ""
            #expect(!refused.hasPrefix("0 ") && refused.contains("durable writes refused"), "the full disk refused writes, which were published again: \(refused)")
        }
        // Dispatch stamped each incident on the simulated clock: within the scenario's
        // Friday evening (China time), not today.
        let start: Int64 = 1_793_966_400_000  // 2026-11-06 20:00 China time
        let received = (facts["incidents"] as? [[String: Any]] ?? []).compactMap { $0["received"] as? Int64 }
        #expect(received.count == calls.count && received.allSatisfy { $0 >= start && $0 < start + 3_600_000 + 600_000 }, "\(received)")
    }

    /// Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN).
    static func mayMount() -> Bool {
        let point = NSTemporaryDirectory() + "xf-mount-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: point, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: point) }
        func run(_ tool: String, _ arguments: [String]) -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return -1 }
            process.waitUntilExit()
            return process.terminationStatus
        }
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "xf-probe", point]) == 0 else { return false }
        _ = run("/bin/umount", [point])
        return true
    }
}
