import Foundation
import Testing
import XunfangPluginKit

@Suite("The plugins' clock")
struct PluginClockTests {
    @Test("the machine's clock by default; a harness's clock runs its factor times as fast from its start, and its waits are that much shorter")
    func simulated() async throws {
        let machine = Int64(Date().timeIntervalSince1970 * 1_000)
        #expect(try PluginClock.from(environment: [:]) == .real)
        #expect(abs(PluginClock.real.now() - machine) < 5_000)

        let start: Int64 = 1_767_225_600_000  // 2026-01-01 08:00 China time
        let clock = PluginClock(start: start, origin: machine - 2_000, factor: 60)
        #expect(try PluginClock.from(environment: [PluginClock.environmentKey: clock.encoded]) == clock, "passed to a plugin as it was")
        // Between the machine times read either side, however long the machine took.
        let now = clock.now(), after = Int64(Date().timeIntervalSince1970 * 1_000)
        #expect(now >= start + 120_000 && now <= start + (after - machine + 2_000) * 60, "2 machine seconds are 2 simulated minutes: \(now - start) ms")

        let before = ContinuousClock.now, from = clock.now()
        try await clock.sleep(for: .seconds(30))
        let waited = ContinuousClock.now - before
        #expect(waited >= .milliseconds(450) && clock.now() >= from + 30_000, "30 simulated seconds are at least half a machine second: \(waited)")
        #expect(clock.machineDuration(.seconds(60)) == .seconds(1))

        for bad in ["simulated:1:2", "real", "simulated:x:1:60", "simulated:1:1:0.5", "simulated:1:1:1000000"] {
            #expect(throws: SettingError.self, "\(bad)") { try PluginClock.from(environment: [PluginClock.environmentKey: bad]) }
        }
    }

    @Test("a governed clock follows the harness's clock file: the same time in every reader, no jump when the pace changes, a wait under way takes the new pace; a missing, relative or foreign file is refused")
    func governed() async throws {
        let directory = NSTemporaryDirectory() + "xf-clock-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let machine = Int64(Date().timeIntervalSince1970 * 1_000), start: Int64 = 1_767_225_600_000
        let file = try ClockFile.create(at: "\(directory)/clock", ClockFile.Segment(start: start, origin: machine - 2_000, factor: 60))
        let writer = try PluginClock(governedBy: file)
        let reader = try PluginClock.from(environment: [PluginClock.environmentKey: writer.encoded])
        #expect(reader.governor != nil && reader.encoded == "governed:\(directory)/clock")
        let first = reader.now(), read = Int64(Date().timeIntervalSince1970 * 1_000)
        #expect(first >= start + 120_000 && first <= start + (read - machine + 2_000) * 60, "2 machine seconds at 60 times: \(first - start) ms")

        // The pace becomes 10,000 times from where the clock stands.
        let switched = Int64(Date().timeIntervalSince1970 * 1_000)
        try file.write(ClockFile.Segment(start: writer.segment.simulated(at: switched), origin: switched, factor: 10_000))
        let after = reader.now()
        #expect(after >= first, "no step back when the pace changes")
        try await Task.sleep(for: .milliseconds(100))
        #expect(reader.now() - after >= 900_000, "a tenth of a machine second is now at least 15 simulated minutes: \(reader.now() - after) ms")

        // A wait begun at the machine's pace ends once the pace rises: an hour would be an
        // hour of machine time at 1 times, and under half a second at 10,000.
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        try file.write(ClockFile.Segment(start: writer.segment.simulated(at: now), origin: now, factor: 1))
        async let waited: Void = reader.sleep(for: .seconds(3_600))
        try await Task.sleep(for: .milliseconds(50))
        let faster = Int64(Date().timeIntervalSince1970 * 1_000)
        try file.write(ClockFile.Segment(start: writer.segment.simulated(at: faster), origin: faster, factor: 10_000))
        try await waited
        #expect(reader.machineDuration(.seconds(10_000)) == .seconds(1))

        try Data("not a clock at all, thirty-two!!".utf8).write(to: URL(fileURLWithPath: "\(directory)/foreign"))
        for bad in ["governed:clock", "governed:\(directory)/missing", "governed:\(directory)/foreign"] {
            #expect(throws: SettingError.self, "\(bad)") { try PluginClock.from(environment: [PluginClock.environmentKey: bad]) }
        }
        #expect(throws: SettingError.self) { try file.write(ClockFile.Segment(start: start, origin: machine, factor: 0.5)) }
    }
}
