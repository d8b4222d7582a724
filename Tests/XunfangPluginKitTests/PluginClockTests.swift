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
        let now = clock.now()
        #expect(now >= start + 120_000 && now < start + 120_000 + 60 * 5_000, "2 machine seconds are 2 simulated minutes: \(now - start) ms")

        let before = ContinuousClock.now
        try await clock.sleep(for: .seconds(30))
        let waited = ContinuousClock.now - before
        #expect(waited >= .milliseconds(450) && waited < .seconds(20), "30 simulated seconds are half a machine second: \(waited)")
        #expect(clock.machineDuration(.seconds(60)) == .seconds(1))

        for bad in ["simulated:1:2", "real", "simulated:x:1:60", "simulated:1:1:0.5", "simulated:1:1:1000000"] {
            #expect(throws: SettingError.self, "\(bad)") { try PluginClock.from(environment: [PluginClock.environmentKey: bad]) }
        }
    }
}
