import Foundation
import Testing

/// Out of process: `xunfang harness run` on CI's scenario, the whole stack as processes on
/// one simulated clock with Situation frozen past the bus's patience, and a kill -9 of each
/// plugin and of the bus.
@Suite("Out of process: the harness runs CI's scenario")
struct HarnessRunTests {
    @Test("scenarios/ci-hour.yaml: a simulated hour at 60 times real speed, every call stored once and dispatched, the frozen Situation caught up, every killed plugin and the killed bus back, all of it on the simulated clock")
    func ciHour() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let out = NSTemporaryDirectory() + "xf-harness-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let (status, output) = try await run(["harness", "run", "\(root)/scenarios/ci-hour.yaml", "--out", out], in: root, withErrors: true)
        #expect(status == 0, "\(output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/report.json"))) as? [String: Any])
        #expect(report["passed"] as? Bool == true, "\(output)")
        let checks = report["checks"] as? [[String: Any]] ?? []
        #expect(checks.count >= 8 && checks.allSatisfy { $0["passed"] as? Bool == true }, "\(checks)")
        let facts = try #require(report["facts"] as? [String: Any])
        let calls = facts["calls"] as? [[String: Any]] ?? []
        #expect(calls.count >= 10, "three times an evening hour's calls: \(calls.count)")
        let faults = facts["faults"] as? [[String: Any]] ?? []
        #expect(faults.count == 8 && faults.allSatisfy { ($0["recoveredAt"] as? Int64 ?? 0) > 0 }, "Situation frozen, six plugins and the bus killed, each back: \(faults)")
        #expect(faults.first?["kind"] as? String == "freeze" && faults.first?["plugin"] as? String == "situation")
        #expect(faults.last?["plugin"] as? String == "bus")
        // Dispatch stamped each incident on the simulated clock: within the scenario's
        // Friday evening (China time), not today.
        let start: Int64 = 1_793_966_400_000  // 2026-11-06 20:00 China time
        let received = (facts["incidents"] as? [[String: Any]] ?? []).compactMap { $0["received"] as? Int64 }
        #expect(received.count == calls.count && received.allSatisfy { $0 >= start && $0 < start + 3_600_000 + 600_000 }, "\(received)")
    }
}
